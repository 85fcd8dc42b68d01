"""Grouping: which open incident, if any, an incoming alert belongs to.

Pure and deterministic: the caller passes the open incidents it knows and the alert; time is
the alert's event time (`startsAt`), never the arrival time, so a replayed storm groups exactly
as the live one did.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from lookout.core.alerts import Alert

DEFAULT_WINDOW = timedelta(minutes=30)


@dataclass
class IncidentSnapshot:
    """What grouping needs to know about an open incident."""

    id: int
    first_alert_at: datetime
    last_alert_at: datetime
    fingerprints: set[str] = field(default_factory=set)
    group_keys: set[str] = field(default_factory=set)
    services: set[str] = field(default_factory=set)

    def absorb(self, alert: Alert) -> None:
        """Account for an alert that joined, so later alerts of a batch see it."""
        self.first_alert_at = min(self.first_alert_at, alert.starts_at)
        self.last_alert_at = max(self.last_alert_at, alert.starts_at)
        self.fingerprints.add(alert.fingerprint)
        if alert.group_key:
            self.group_keys.add(alert.group_key)
        if alert.service:
            self.services.add(alert.service)

    @classmethod
    def start(cls, incident_id: int, alert: Alert) -> IncidentSnapshot:
        snapshot = cls(
            id=incident_id, first_alert_at=alert.starts_at, last_alert_at=alert.starts_at
        )
        snapshot.absorb(alert)
        return snapshot


@dataclass(frozen=True)
class Match:
    """The decision for one alert: join `incident_id` (with a reason) or open a new one."""

    incident_id: int | None
    reason: str

    @property
    def is_new(self) -> bool:
        return self.incident_id is None


# Stronger evidence wins when several incidents match.
_IDENTITY, _GROUP_KEY, _SERVICE = 3, 2, 1


def _describe_gap(alert: Alert, incident: IncidentSnapshot) -> str:
    seconds = int((alert.starts_at - incident.last_alert_at).total_seconds())
    if seconds >= 0:
        return f"{_duration(seconds)} after the last alert"
    return f"{_duration(-seconds)} before the last alert"


def _duration(seconds: int) -> str:
    if seconds < 90:
        return f"{seconds} s"
    if seconds < 5400:
        return f"{round(seconds / 60)} min"
    return f"{seconds / 3600:.1f} h"


def match_alert(
    alert: Alert,
    open_incidents: list[IncidentSnapshot],
    *,
    window: timedelta = DEFAULT_WINDOW,
) -> Match:
    """Rule one of grouping.

    An alert joins an open incident that already holds its fingerprint, or shares its
    Alertmanager `groupKey`, or — within `window` of the incident's alerts — its service
    (the `service` label, else `job`, else `namespace`). Otherwise it opens a new incident.
    """
    best: tuple[int, datetime, IncidentSnapshot, str] | None = None
    for incident in open_incidents:
        candidate: tuple[int, str] | None = None
        if alert.fingerprint in incident.fingerprints:
            candidate = (_IDENTITY, "same alert fingerprint")
        elif alert.group_key and alert.group_key in incident.group_keys:
            candidate = (_GROUP_KEY, "same Alertmanager group")
        elif (
            alert.service
            and alert.service in incident.services
            and incident.first_alert_at - window
            <= alert.starts_at
            <= incident.last_alert_at + window
        ):
            candidate = (
                _SERVICE,
                f"same service {alert.service}, {_describe_gap(alert, incident)}",
            )
        if candidate is None:
            continue
        strength, reason = candidate
        key = (strength, incident.last_alert_at)
        if best is None or key > (best[0], best[1]):
            best = (strength, incident.last_alert_at, incident, reason)
    if best is None:
        return Match(incident_id=None, reason="no open incident matches")
    return Match(incident_id=best[2].id, reason=f"joined: {best[3]}")
