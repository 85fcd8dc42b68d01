"""Response figures over many incidents: MTTA and MTTR percentiles, noise reduction.

MTTA is the time from an incident's opening to its acknowledgement, MTTR to its resolution,
per episode (each opening of an incident: a reopened one counts again, from its reopening),
both by Lookout's clock. Percentiles are nearest-rank, so p50 and p90 are times some incident
really took.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class IncidentTimes:
    """One episode: when it opened, was acknowledged and resolved, and the alerts it brings
    to the count (an incident's alerts are counted with one of its episodes only)."""

    created_at: datetime
    acknowledged_at: datetime | None
    resolved_at: datetime | None
    alerts: int
    incident_id: int | None = None

    @property
    def mtta(self) -> timedelta | None:
        return None if self.acknowledged_at is None else self.acknowledged_at - self.created_at

    @property
    def mttr(self) -> timedelta | None:
        return None if self.resolved_at is None else self.resolved_at - self.created_at


@dataclass(frozen=True)
class Spread:
    """p50 and p90 of a set of durations, and how many there were."""

    count: int
    p50: timedelta | None
    p90: timedelta | None

    @classmethod
    def of(cls, values: Sequence[timedelta]) -> Spread:
        ordered = sorted(values)
        return cls(len(ordered), percentile(ordered, 0.5), percentile(ordered, 0.9))


@dataclass(frozen=True)
class ResponseStats:
    incidents: int
    alerts: int
    mtta: Spread
    mttr: Spread
    episodes: int = 0

    @property
    def alerts_per_incident(self) -> float:
        return self.alerts / self.incidents if self.incidents else 0.0

    @property
    def noise_reduction(self) -> float:
        """1 − incidents / alerts: the share of alerts nobody had to look at on their own."""
        return 1 - self.incidents / self.alerts if self.alerts else 0.0


def percentile(ordered: Sequence[timedelta], share: float) -> timedelta | None:
    """Nearest-rank percentile of already sorted values; None for none."""
    if not ordered:
        return None
    return ordered[max(math.ceil(share * len(ordered)) - 1, 0)]


def response_stats(incidents: Sequence[IncidentTimes]) -> ResponseStats:
    """Figures over episodes; `incidents` counts distinct incidents where ids are known."""
    ids = {item.incident_id for item in incidents if item.incident_id is not None}
    unknown = sum(1 for item in incidents if item.incident_id is None)
    return ResponseStats(
        incidents=len(ids) + unknown,
        episodes=len(incidents),
        alerts=sum(item.alerts for item in incidents),
        mtta=Spread.of([t for item in incidents if (t := item.mtta) is not None]),
        mttr=Spread.of([t for item in incidents if (t := item.mttr) is not None]),
    )
