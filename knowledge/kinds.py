"""The kind of an incident: what feedback is kept per, so that "failing over worked 4 of 5
times" speaks of incidents like this one, not of every incident."""

from __future__ import annotations

from collections.abc import Sequence

from core.incidents import AlertBrief, main_alert


def incident_kind(service: str, alert_name: str) -> str:
    """`PostgresDown on postgres-primary`: the main alert's name on the primary service."""
    return f"{alert_name or 'alert'} on {service or 'unknown'}"[:255]


def kind_of(service: str, briefs: Sequence[AlertBrief]) -> str:
    """The kind of an incident from its alerts (its main alert: worst, earliest)."""
    return incident_kind(service, main_alert(list(briefs)).name if briefs else "")
