"""Re-deriving incidents from what the database holds: their alerts and the changes before."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from core.change_correlation import CLOCK_SKEW, WINDOW, ScoredChange, incident_environment
from core.changes import ChangeEvent
from core.incident_summary import IncidentSummary, naming_alerts, summarize
from core.incidents import AlertBrief
from core.projects import DEFAULT_PROJECT
from core.topology import Topology
from storage.alerts import AlertRepository
from storage.changes import ChangeRepository
from storage.incidents import IncidentRepository, apply_summary
from storage.models import IncidentRow


async def summarize_incidents(
    briefs: Mapping[int, Sequence[AlertBrief]],
    topology: Topology,
    *,
    changes: ChangeRepository,
    alerts: AlertRepository,
    since: Mapping[int, datetime] | None = None,
    projects: Mapping[int, str] | None = None,
) -> dict[int, IncidentSummary]:
    """`core.incident_summary.summarize` for each incident with alerts, with the changes in
    the window before its current episode's first alert (one query for all of them); `since`
    gives each incident's episode start (see `naming_alerts`). An incident's environment (its
    alerts' `environment`/`env` label) is read only when there is a change to weigh.
    `projects` gives each incident's project: only changes of that project (or of the
    default project, which everyone sees) are weighed for it."""
    since = since or {}
    starts = {
        i: min(b.starts_at for b in naming_alerts(group, since.get(i)))
        for i, group in briefs.items()
        if group
    }
    if not starts:
        return {}
    recent = await changes.between(
        since=min(starts.values()) - WINDOW, until=max(starts.values()) + CLOCK_SKEW
    )
    owners = await changes.projects_of(event_ids=[c.id for c in recent]) if projects else {}
    summaries = {}
    for incident_id, first in starts.items():
        candidates = _around(recent, first)
        if projects and incident_id in projects:
            allowed = {projects[incident_id], DEFAULT_PROJECT}
            candidates = [c for c in candidates if owners.get(c.id, DEFAULT_PROJECT) in allowed]
        environment = None
        if candidates:
            labels = await alerts.label_sets(incident_id=incident_id)
            environment = incident_environment(labels)
        summaries[incident_id] = summarize(
            briefs[incident_id],
            topology,
            since=since.get(incident_id),
            changes=candidates,
            environment=environment,
        )
    return summaries


def _around(changes: Sequence[ChangeEvent], first_alert: datetime) -> list[ChangeEvent]:
    return [
        change
        for change in changes
        if first_alert - WINDOW <= change.landed_at
        and change.started_at <= first_alert + CLOCK_SKEW
    ]


async def reweigh_for_change(
    change: ChangeEvent,
    topology: Topology,
    *,
    incidents: IncidentRepository,
    changes: ChangeRepository,
    alerts: AlertRepository,
    now: datetime,
) -> list[IncidentRow]:
    """A change just recorded: re-derive the open incidents whose first alert came after it
    (within the window). Returns those whose suspect change or root cause moved (their
    timeline says so); the caller marks their messages stale."""
    # Ingestion locks the incidents it touches as it goes, this locks them in id order:
    # without taking turns, each could wait for the other (a deadlock PostgreSQL breaks by
    # failing one of them).
    await incidents.take_turn_with_ingestion()
    found = await incidents.open_started_between(
        since=change.started_at - CLOCK_SKEW, until=change.landed_at + WINDOW
    )
    if not found:
        return []
    briefs = await alerts.briefs(incident_ids=[incident.id for incident in found])
    summaries = await summarize_incidents(
        briefs,
        topology,
        changes=changes,
        alerts=alerts,
        since={incident.id: incident.episode_started_at for incident in found},
        projects={incident.id: incident.project for incident in found},
    )
    moved = []
    for incident in found:
        summary = summaries.get(incident.id)
        if summary is None:
            continue
        before = (incident.suspect_change, incident.root_cause)
        apply_summary(incident, summary)
        if (incident.suspect_change, incident.root_cause) == before:
            continue
        moved.append(incident)
        if summary.suspect_change is not None:
            suspect = ScoredChange.from_record(summary.suspect_change)
            await incidents.add_event(
                incident_id=incident.id,
                kind="change",
                text=f"Suspect change: {suspect.change.summary()} (score {suspect.score:.2f})",
                at=now,
                data={"change": suspect.change.id, "score": suspect.score},
            )
    return moved
