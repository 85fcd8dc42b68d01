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

from core.change_correlation import WINDOW, score_changes, strongest
from core.changes import ChangeEvent
from core.incidents import AlertBrief, primary_service, title_for, worst_severity
from core.root_cause import RecentChange, RootCause, ServiceFailure, rank_root_causes
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
    suspect_change: dict[str, Any] | None = None
    """`ScoredChange.record` of a strong change before the first alert, else None."""


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
    failures: Mapping[str, ServiceFailure],
    topology: Topology,
    changes: Sequence[RecentChange] = (),
) -> RootCause | None:
    """The top candidate when it says something: the incident spans more than one service,
    the catalog knows its service (then tier and dependents are worth reading), or a strong
    change precedes it."""
    if not failures or (
        len(failures) == 1 and not changes and not any(name in topology for name in failures)
    ):
        return None
    return rank_root_causes(failures, topology, changes=changes, change_lookback=WINDOW)[0]


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
    briefs: Sequence[AlertBrief],
    topology: Topology,
    *,
    since: datetime | None = None,
    changes: Sequence[ChangeEvent] = (),
    environment: str | None = None,
) -> IncidentSummary:
    """The summary of an incident with at least one alert. `since` is when its current
    episode's alerts began (event time, less the grouping window; None for all of them):
    title, severity, service and cause come from those (`naming_alerts`). `changes` are the
    recent changes (`core.change_correlation`): a strong one becomes the suspect change and
    raises its service in the root-cause ranking; `environment` is the incident's, when its
    alerts say."""
    everything = list(briefs)
    alerts = naming_alerts(everything, since)
    failures = service_failures(alerts)
    first_alert_at = min(alert.starts_at for alert in alerts)
    scored = score_changes(
        changes,
        services=failures or [primary_service(alerts)],
        first_alert_at=first_alert_at,
        topology=topology,
        environment=environment,
    )
    suspect = strongest(scored)
    raised = [
        RecentChange(
            item.service, min(item.change.landed_at, first_alert_at), item.change.summary()
        )
        for item in scored
        if item.strong and item.relation == "same"
    ]
    cause = probable_root_cause(failures, topology, raised)
    return IncidentSummary(
        title=title_for(alerts)[:500],
        severity=worst_severity(alerts),
        service=primary_service(alerts),
        first_alert_at=min(alert.starts_at for alert in everything),
        last_alert_at=max(alert.last_at for alert in everything),
        root_cause=root_cause_record(cause, topology),
        suspect_change=suspect.record() if suspect is not None else None,
    )
