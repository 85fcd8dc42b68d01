"""The live blast-radius tracker on an incident: what it shows, and when that changed.

A tracker keeps a snapshot of what its message last showed (a small JSON document) and a
revision; whoever recomputes it — the skill when asked again, the bot's tracker watcher
after every change to incidents and on a timer — stores a new snapshot and bumps the
revision only when `changed` says the picture moved: a dependent's status, the propagation
path, the set of dependents, where statuses come from, or the end of the incident. A metric
drifting from 4.2 % to 4.3 % is no reason to edit a chat message; its new value rides along
with the next real change. The notifier then edits the one message in place.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from core.blast_radius import ServiceStatus, describe_propagation
from core.incidents import AlertBrief, IncidentStatus, display_id
from core.topology import Topology
from integrations.service_health import HealthSnapshot
from skills.contract import Block, Context, Reply, Text
from skills.formatting import clock_time
from skills.moments import instants
from skills.views.blast_view import (
    MAX_ROWS,
    BlastView,
    blast_view,
    dependents_blocks,
    failed_at,
    row_of,
    status_label,
)
from storage.models import BlastTrackerRow, IncidentRow

LIVE_HINT = "updated as dependents degrade or recover"


def closing_words(incident: IncidentRow) -> str | None:
    """None while the incident is open; the final line once it resolved."""
    if incident.status != IncidentStatus.RESOLVED.value:
        return None
    if incident.merged_into is not None:
        return (
            f"{display_id(incident.id)} was merged into {display_id(incident.merged_into)} — "
            "no longer tracking."
        )
    return "Incident resolved — no longer tracking."


def snapshot(
    view: BlastView, *, incident_id: int, now: datetime, final: str | None = None
) -> dict[str, Any]:
    """What the tracker message shows, as JSON for its row."""
    result = view.result
    counts = result.status_counts()
    shown = result.affected[:MAX_ROWS]
    names = {item.name for item in shown}
    return {
        "service": result.service,
        "incident": incident_id,
        "summary": result.summary(),
        "affected": len(result.affected),
        "failing": counts[ServiceStatus.FAILING],
        "degraded": counts[ServiceStatus.DEGRADED],
        # Every dependent's status (not only the rows shown): what `changed` compares.
        "statuses": {
            item.name: item.status.value
            for item in result.affected
            if item.status is not ServiceStatus.HEALTHY
        },
        # The rows shown, without their status (that is in `statuses`).
        "rows": [list(row_of(item, {})[:5]) for item in shown],
        "notes": {name: note for name, note in view.notes.items() if name in names},
        "propagation": describe_propagation(result.propagation),
        "sources": view.sources,
        "final": final,
        "updated_at": now.isoformat(),
    }


def _essence(shown: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in shown.items() if key not in ("notes", "updated_at")}


def changed(before: Mapping[str, Any], after: Mapping[str, Any]) -> bool:
    """Whether `after` shows something `before` did not (readings' exact values aside)."""
    return _essence(before) != _essence(after)


def follow(
    topology: Topology,
    *,
    service: str,
    incident: IncidentRow,
    briefs: Sequence[AlertBrief],
    alert_statuses: Mapping[str, ServiceStatus],
    health: HealthSnapshot | None,
    now: datetime,
) -> dict[str, Any]:
    """What a tracker of `service` on `incident` should show now: live while the incident
    is open, the final version once it resolved. Raises `UnknownServiceError` when the
    service left the catalog."""
    view = blast_view(
        topology,
        service,
        alert_statuses=alert_statuses,
        health=health,
        failed=failed_at(briefs),
    )
    return snapshot(view, incident_id=incident.id, now=now, final=closing_words(incident))


def finished(shown: Mapping[str, Any], incident: IncidentRow, now: datetime) -> dict[str, Any]:
    """The last snapshot, closed: for a tracker whose service can no longer be recomputed."""
    return {
        **shown,
        "final": closing_words(incident) or "No longer tracking.",
        "updated_at": now.isoformat(),
    }


def tracker_message(tracker: BlastTrackerRow) -> Reply:
    """The tracker's one message: title, summary, dependents, propagation, freshness."""
    shown = tracker.snapshot
    incident = display_id(tracker.incident_id)
    final = shown.get("final")
    state = "final" if final else "live"
    blocks: list[Block] = [
        Text(f"**Blast radius of {shown['service']}** ({incident}) — {state}"),
        Text(shown["summary"]),
    ]
    notes: dict[str, str] = shown.get("notes", {})
    rows = [
        (*row, status_label(shown["statuses"].get(row[0], "healthy"), notes.get(row[0])))
        for row in shown["rows"]
    ]
    blocks += dependents_blocks(shown["service"], rows, shown["affected"])
    written = datetime.fromisoformat(shown["updated_at"])
    if shown["propagation"]:
        lines = "\n".join(f"• {instants(line, written)}" for line in shown["propagation"])
        blocks.append(Text(f"**Propagation**\n{lines}"))
    if shown.get("sources"):
        blocks.append(Context(shown["sources"]))
    updated = clock_time(written, written)
    color: str | None = "resolved"
    if final:
        blocks.append(Context(f"{final} Updated {updated}."))
    else:
        blocks.append(
            Context(f"Updated {updated} · live: edited as dependents degrade or recover.")
        )
        color = "critical" if shown["failing"] else "warning" if shown["degraded"] else None
    return Reply(blocks=blocks, visibility="thread", incident_id=tracker.incident_id, color=color)
