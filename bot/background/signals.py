"""Lookout's own signals as alerts: SLO burn rates, capacity forecasts and Prometheus checks
become alerts that go through ingestion like Alertmanager's, so they join or open incidents
the same way (grouped by service, topology and group key; deduplicated by fingerprint).

Each source sends under its own receiver name. An evaluation says which signals are active
now and which subjects it managed to judge; a signal that was firing and is no longer
active resolves, but only when its subject was judged (an unanswered query changes nothing).
A signal that keeps firing keeps its `startsAt`, so re-sending it is a no-op for ingestion.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import datetime

from core.alerts import Alert, fingerprint
from storage.database import Database

SLO_RECEIVER = "lookout-slo"
CAPACITY_RECEIVER = "lookout-capacity"
CHECKS_RECEIVER = "lookout-checks"


@dataclass(frozen=True)
class Signal:
    labels: dict[str, str]
    annotations: dict[str, str] = field(default_factory=dict)
    group_key: str | None = None


@dataclass(frozen=True)
class Evaluation:
    """What one evaluation found: active signals, and the subjects it judged."""

    signals: list[Signal]
    judged: set[str]
    problems: list[str] = field(default_factory=list)

    def summary(self) -> str:
        text = f"{len(self.signals)} active of {len(self.judged)} judged"
        return text + (f"; {len(self.problems)} unanswered" if self.problems else "")


async def send(
    database: Database,
    accept: Callable[[list[Alert]], Awaitable[object]],
    *,
    receiver: str,
    subject_of: Callable[[dict[str, str]], str],
    evaluation: Evaluation,
    now: datetime,
) -> list[Alert]:
    """Turn an evaluation into alerts (new, still firing, resolved) and ingest them."""
    async with database.unit_of_work() as uow:
        firing = {
            alert.fingerprint: alert for alert in await uow.alerts.firing_from(receiver=receiver)
        }
    alerts: list[Alert] = []
    active: set[str] = set()
    for signal in evaluation.signals:
        key = fingerprint(signal.labels)
        active.add(key)
        known = firing.get(key)
        alerts.append(
            Alert(
                fingerprint=key,
                status="firing",
                starts_at=known.starts_at if known is not None else now,
                ends_at=None,
                labels=dict(signal.labels),
                annotations=dict(signal.annotations),
                group_key=signal.group_key,
                receiver=receiver,
            )
        )
    for key, alert in firing.items():
        if key not in active and subject_of(alert.labels) in evaluation.judged:
            alerts.append(replace(alert, status="resolved", ends_at=now))
    if alerts:
        await accept(alerts)
    return alerts
