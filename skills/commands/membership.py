"""What merge and split share: re-deriving an incident from the alerts it now holds."""

from __future__ import annotations

from core.incidents import IncidentStatus
from skills.context import SkillContext
from storage.incidents import apply_summary
from storage.models import IncidentRow
from storage.summaries import summarize_incidents


async def rederive(ctx: SkillContext, incident: IncidentRow) -> None:
    """Title, severity, times and root cause from the incident's alerts; an incident left
    with no firing alert resolves (as ingestion would), and its chat message is marked stale."""
    briefs = (await ctx.alerts.briefs(incident_ids=[incident.id]))[incident.id]
    if briefs:
        summaries = await summarize_incidents(
            {incident.id: briefs}, ctx.topology, changes=ctx.changes, alerts=ctx.alerts
        )
        apply_summary(incident, summaries[incident.id])
        if incident.status != IncidentStatus.RESOLVED and not any(b.firing for b in briefs):
            incident.status = IncidentStatus.RESOLVED.value
            incident.resolved_at = ctx.now
            incident.resolved_by = ctx.actor.display_name
    ctx.incident_changed(incident)
