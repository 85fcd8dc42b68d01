"""What merge and split share: re-deriving an incident from the alerts it now holds."""

from __future__ import annotations

from core.incident_summary import summarize
from core.incidents import IncidentStatus
from skills.context import SkillContext
from storage.incidents import apply_summary
from storage.models import IncidentRow


async def rederive(ctx: SkillContext, incident: IncidentRow) -> None:
    """Title, severity, times and root cause from the incident's alerts; an incident left
    with no firing alert resolves (as ingestion would), and its chat message is marked stale."""
    briefs = (await ctx.alerts.briefs(incident_ids=[incident.id]))[incident.id]
    if briefs:
        apply_summary(incident, summarize(briefs, ctx.topology))
        if incident.status != IncidentStatus.RESOLVED and not any(b.firing for b in briefs):
            incident.status = IncidentStatus.RESOLVED.value
            incident.resolved_at = ctx.now
            incident.resolved_by = ctx.actor.display_name
    ctx.incident_changed(incident)
