"""SLA clocks: time-to-acknowledge (MTTA) and time-to-resolve (MTTR) targets per severity
and service, the clock an incident's message shows, breaches, and monthly compliance.

```yaml
sla:
  targets:
    - {severity: critical, mtta: 5m, mttr: 4h}
    - {severity: warning, mtta: 30m, mttr: 1d}
    - {severity: critical, service: checkout, mtta: 2m, mttr: 1h}   # the most specific wins
  report: {channel: "#sre", cron: "0 9 1 * *", timezone: UTC}      # the monthly `sla report`
```

Clocks run per episode from its opening (Lookout's clock), as MTTA and MTTR are measured.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from core.escalation import Duration, spoken_duration
from core.severity import severity_from_name

Clock = Literal["mtta", "mttr"]


class SlaTarget(BaseModel):
    model_config = ConfigDict(extra="forbid")

    severity: str | None = None
    service: str | None = None
    mtta: Duration | None = None
    mttr: Duration | None = None

    @field_validator("severity")
    @classmethod
    def _severity(cls, value: str | None) -> str | None:
        return severity_from_name(value).label if value is not None else None

    @model_validator(mode="after")
    def _some(self) -> SlaTarget:
        if self.mtta is None and self.mttr is None:
            raise ValueError("an SLA target sets mtta, mttr or both")
        return self

    @property
    def name(self) -> str:
        scope = " ".join(part for part in (self.severity, self.service) if part) or "all"
        return scope

    def applies(self, severity: str, service: str | None) -> bool:
        return (self.severity is None or self.severity == severity) and (
            self.service is None or self.service == service
        )

    @property
    def specificity(self) -> int:
        return (self.service is not None) * 2 + (self.severity is not None)

    def limit(self, clock: Clock) -> timedelta | None:
        return self.mtta if clock == "mtta" else self.mttr


class SlaReportEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channel: str
    cron: str = "0 9 1 * *"
    timezone: str = "UTC"


class SlaRules(BaseModel):
    model_config = ConfigDict(extra="forbid")

    targets: list[SlaTarget] = Field(default_factory=list)
    report: SlaReportEntry | None = None

    def target_for(self, severity: str, service: str | None, clock: Clock) -> SlaTarget | None:
        """The most specific target that sets `clock` for an incident of this kind."""
        fitting = [
            t for t in self.targets if t.applies(severity, service) and t.limit(clock) is not None
        ]
        return max(fitting, key=lambda t: t.specificity, default=None)


@dataclass(frozen=True)
class ClockState:
    """One running (or stopped) clock of an episode: its target and deadline, and whether
    it is met, running or breached at `now`."""

    clock: Clock
    target: SlaTarget
    due: datetime
    stopped_at: datetime | None  # acknowledged (mtta) or resolved (mttr)
    now: datetime

    @property
    def breached(self) -> bool:
        end = self.stopped_at or self.now
        return end > self.due

    @property
    def running(self) -> bool:
        return self.stopped_at is None

    @property
    def left(self) -> timedelta:
        return self.due - self.now

    def describe(self) -> str:
        """`ack due in 1:30`, `resolve overdue by 0:12:05`, `acked in 3:10 (target 5m)`."""
        verb = "ack" if self.clock == "mtta" else "resolve"
        limit = self.target.limit(self.clock)
        assert limit is not None
        if self.running:
            if self.left >= timedelta(0):
                return f"{verb} due in {clock_text(self.left)} (target {spoken_duration(limit)})"
            return f"{verb} overdue by {clock_text(-self.left)} (target {spoken_duration(limit)})"
        took = clock_text(limit + (self.stopped_at - self.due if self.stopped_at else self.left))
        verdict = "breached" if self.breached else "met"
        return f"{verb} in {took} — {verdict} (target {spoken_duration(limit)})"


def clock_text(span: timedelta) -> str:
    """`1:30` (minutes:seconds) under an hour, `2:05:00` above."""
    seconds = max(int(span.total_seconds()), 0)
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


def clocks(
    rules: SlaRules,
    *,
    severity: str,
    service: str | None,
    opened_at: datetime,
    acknowledged_at: datetime | None,
    resolved_at: datetime | None,
    now: datetime,
) -> list[ClockState]:
    """The episode's MTTA and MTTR clocks that have a target."""
    found: list[ClockState] = []
    for clock, stopped in (("mtta", acknowledged_at or resolved_at), ("mttr", resolved_at)):
        target = rules.target_for(severity, service, clock)  # type: ignore[arg-type]
        if target is None:
            continue
        limit = target.limit(clock)  # type: ignore[arg-type]
        assert limit is not None
        found.append(ClockState(clock, target, opened_at + limit, stopped, now))  # type: ignore[arg-type]
    return found


@dataclass(frozen=True)
class EpisodeOutcome:
    """One episode as the monthly report sees it."""

    incident_id: int
    number: int
    severity: str
    service: str
    opened_at: datetime
    acknowledged_at: datetime | None
    resolved_at: datetime | None


@dataclass(frozen=True)
class Compliance:
    """How many episodes a target's clock judged, and how many met it."""

    target: str
    clock: Clock
    limit: timedelta
    judged: int
    met: int

    @property
    def percent(self) -> float | None:
        return 100.0 * self.met / self.judged if self.judged else None


def compliance(
    rules: SlaRules, episodes: Sequence[EpisodeOutcome], *, until: datetime
) -> list[Compliance]:
    """Per target and clock: the episodes it applies to (as the most specific target) whose
    clock has an outcome by `until`, and how many met it. An episode still unacknowledged
    (or unresolved) past its deadline counts as missed; one still within it is not judged."""
    tally: dict[tuple[str, Clock], list[int]] = {}
    limits: dict[tuple[str, Clock], timedelta] = {}
    for episode in episodes:
        for state in clocks(
            rules,
            severity=episode.severity,
            service=episode.service,
            opened_at=episode.opened_at,
            acknowledged_at=episode.acknowledged_at,
            resolved_at=episode.resolved_at,
            now=until,
        ):
            if state.running and not state.breached:
                continue
            key = (state.target.name, state.clock)
            limit = state.target.limit(state.clock)
            assert limit is not None
            limits[key] = limit
            counts = tally.setdefault(key, [0, 0])
            counts[0] += 1
            counts[1] += 0 if state.breached else 1
    return [
        Compliance(name, clock, limits[(name, clock)], judged, met)
        for (name, clock), (judged, met) in sorted(tally.items())
    ]
