"""Incident rules: lifecycle transitions, severity and title derived from the alerts."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from core.alerts import Alert
from core.severity import Severity

_INCIDENT_ID = re.compile(r"^(?:#|INC-?)?(\d{1,18})$", re.IGNORECASE)


class IncidentStatus(StrEnum):
    """triggered → acknowledged → investigating → mitigated → resolved, one step at a time; an
    open incident may be resolved at any step (`resolve`, or its alerts all resolving); a
    resolved incident that takes a late alert goes back to triggered (reopened). Every other
    move is refused."""

    TRIGGERED = "triggered"
    ACKNOWLEDGED = "acknowledged"
    INVESTIGATING = "investigating"
    MITIGATED = "mitigated"
    RESOLVED = "resolved"


_ALLOWED: dict[IncidentStatus, tuple[IncidentStatus, ...]] = {
    IncidentStatus.TRIGGERED: (IncidentStatus.ACKNOWLEDGED, IncidentStatus.RESOLVED),
    IncidentStatus.ACKNOWLEDGED: (IncidentStatus.INVESTIGATING, IncidentStatus.RESOLVED),
    IncidentStatus.INVESTIGATING: (IncidentStatus.MITIGATED, IncidentStatus.RESOLVED),
    IncidentStatus.MITIGATED: (IncidentStatus.RESOLVED,),
    IncidentStatus.RESOLVED: (IncidentStatus.TRIGGERED,),
}


def next_steps(current: IncidentStatus) -> tuple[IncidentStatus, ...]:
    """The statuses an incident in `current` may move to, the lifecycle's next step first."""
    return _ALLOWED[current]


class InvalidTransition(ValueError):
    """The lifecycle does not allow this move (e.g. acknowledging a resolved incident)."""


def check_transition(current: IncidentStatus, target: IncidentStatus) -> None:
    if target not in _ALLOWED[current]:
        raise InvalidTransition(f"cannot move an incident from {current} to {target}")


def display_id(incident_id: int) -> str:
    return f"INC-{incident_id}"


def parse_incident_id(text: str) -> int:
    """Accept `42`, `#42`, `INC-42` and `inc42`; raise ValueError otherwise."""
    match = _INCIDENT_ID.match(text.strip())
    if match is None or int(match[1]) <= 0:
        raise ValueError(f"{text!r} is not an incident id (try INC-42 or 42)")
    return int(match[1])


@dataclass(frozen=True)
class AlertBrief:
    """The few facts an incident's title and severity derive from: one alert, or `count`
    alike alerts (same name, severity, service and state) started from `starts_at` to
    `latest_at` — the database summarizes big incidents that way. `seen_firing` is False
    for alerts that arrived resolved and were never seen firing."""

    fingerprint: str
    name: str
    severity: Severity
    service: str | None
    firing: bool
    starts_at: datetime
    count: int = 1
    latest_at: datetime | None = None
    seen_firing: bool = True

    @property
    def last_at(self) -> datetime:
        return self.latest_at or self.starts_at

    @classmethod
    def of(cls, alert: Alert) -> AlertBrief:
        return cls(
            fingerprint=alert.fingerprint,
            name=alert.name,
            severity=alert.severity,
            service=alert.service,
            firing=alert.firing,
            starts_at=alert.starts_at,
        )


def worst_severity(alerts: Iterable[AlertBrief]) -> Severity:
    return max((alert.severity for alert in alerts), default=Severity.WARNING)


def main_alert(alerts: list[AlertBrief]) -> AlertBrief:
    """The alert that best names the incident: firing first, worst, then earliest."""
    if not alerts:
        raise ValueError("an incident has at least one alert")
    return min(
        alerts, key=lambda a: (not a.firing, -a.severity, a.starts_at, a.name, a.fingerprint)
    )


def primary_service(alerts: list[AlertBrief]) -> str:
    """The service named by most alerts, ties broken by the main alert's service."""
    counts: Counter[str] = Counter()
    for alert in alerts:
        if alert.service:
            counts[alert.service] += alert.count
    if not counts:
        return "unknown"
    main = main_alert(alerts).service
    top = max(counts.values())
    if main is not None and counts[main] == top:
        return main
    return sorted(name for name, count in counts.items() if count == top)[0]


def title_for(alerts: list[AlertBrief]) -> str:
    """`checkout: HighErrorRate` or `checkout: HighErrorRate and 2 other alerts`."""
    main = main_alert(alerts)
    others = len({alert.name for alert in alerts} - {main.name})
    symptom = main.name
    if others:
        symptom += f" and {others} other alert{'s' if others > 1 else ''}"
    return f"{primary_service(alerts)}: {symptom}"
