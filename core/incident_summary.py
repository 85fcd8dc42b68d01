"""What an incident's message says about it, derived from its alerts (as briefs) and the
topology: title, severity, main service, times and the probable root cause.

Ingestion re-derives this for every incident a batch touched; merge and split do it for the
incidents they change. The root cause is kept as a small JSON record on the incident, so the
message can show it without the topology at hand.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from core.incidents import AlertBrief, primary_service, title_for, worst_severity
from core.root_cause import RootCause, ServiceFailure, rank_root_causes
from core.severity import Severity
from core.topology import Topology


@dataclass(frozen=True)
class IncidentSummary:
    title: str
    severity: Severity
    service: str
    first_alert_at: datetime
    last_alert_at: datetime
    root_cause: dict[str, Any] | None
    """`root_cause_record` of the top candidate, or None when there is nothing to say."""


def service_failures(briefs: Sequence[AlertBrief]) -> dict[str, ServiceFailure]:
    """Each service's first alert and worst severity over an incident's alerts."""
    first: dict[str, datetime] = {}
    worst: dict[str, Severity] = {}
    for brief in briefs:
        if brief.service is None:
            continue
        name = brief.service
        first[name] = min(first.get(name, brief.starts_at), brief.starts_at)
        worst[name] = max(worst.get(name, brief.severity), brief.severity)
    return {name: ServiceFailure(first[name], worst[name]) for name in first}


def probable_root_cause(
    failures: Mapping[str, ServiceFailure], topology: Topology
) -> RootCause | None:
    """The top candidate when it says something: the incident spans more than one service,
    or the catalog knows its service (then tier and dependents are worth reading)."""
    if not failures or (len(failures) == 1 and not any(name in topology for name in failures)):
        return None
    return rank_root_causes(failures, topology)[0]


def root_cause_record(cause: RootCause | None, topology: Topology) -> dict[str, Any] | None:
    if cause is None:
        return None
    return {
        "service": cause.service,
        "confidence": cause.confidence,
        "factors": list(cause.factors),
        "in_catalog": cause.service in topology,
    }


def root_cause_from_record(record: Mapping[str, Any] | None) -> RootCause | None:
    if not record or not isinstance(record.get("service"), str):
        return None
    return RootCause(
        service=record["service"],
        confidence=float(record.get("confidence", 0.0)),
        factors=tuple(str(factor) for factor in record.get("factors", ())),
    )


def naming_alerts(briefs: Sequence[AlertBrief], since: datetime | None = None) -> list[AlertBrief]:
    """The alerts that name an incident: those seen firing, and of those the ones of its
    current episode (alerting since `since`) — an alert that arrived already resolved, or one
    merged in from days before, must not give the incident its title, service or cause.
    Falls back to the wider set when the narrower one is empty."""
    seen = [brief for brief in briefs if brief.seen_firing] or list(briefs)
    if since is None:
        return seen
    return [brief for brief in seen if brief.last_at >= since] or seen


def summarize(
    briefs: Sequence[AlertBrief], topology: Topology, *, since: datetime | None = None
) -> IncidentSummary:
    """The summary of an incident with at least one alert; `since` is when its current
    episode's alerts began (event time, less the grouping window), None for all of them."""
    alerts = list(briefs)
    naming = naming_alerts(alerts, since)
    cause = probable_root_cause(service_failures(naming), topology)
    return IncidentSummary(
        title=title_for(naming)[:500],
        severity=worst_severity(naming),
        service=primary_service(naming),
        first_alert_at=min(alert.starts_at for alert in alerts),
        last_alert_at=max(alert.last_at for alert in alerts),
        root_cause=root_cause_record(cause, topology),
    )
