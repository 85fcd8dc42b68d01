"""What merge and split share: re-deriving an incident from the alerts it now holds."""

from __future__ import annotations

from core.incidents import IncidentStatus
from skills.context import SkillContext
from storage.incidents import apply_summary
from storage.models import IncidentRow
from storage.summaries import summarize_incidents


async def rederive(ctx: SkillContext, incident: IncidentRow, *, split_off: bool = False) -> None:
    """Title, severity, times and root cause from the incident's alerts — named by those of
    its current episode — and its chat message marked stale. An incident left with no firing
    alert resolves as ingestion would: by its alerts, not by whoever ran the command; one
    `split_off` that way is not counted in response figures (nobody responded to it)."""
    briefs = (await ctx.alerts.briefs(incident_ids=[incident.id]))[incident.id]
    if briefs:
        summaries = await summarize_incidents(
            {incident.id: briefs},
            ctx.topology,
            changes=ctx.changes,
            alerts=ctx.alerts,
            since={incident.id: incident.episode_started_at},
            projects={incident.id: incident.project},
        )
        apply_summary(incident, summaries[incident.id])
        if incident.status != IncidentStatus.RESOLVED and not any(b.firing for b in briefs):
            ended = (await ctx.alerts.ended_at(incident_ids=[incident.id])).get(incident.id)
            await ctx.episodes.resolved(
                incident=incident,
                by="Alertmanager",
                at=ctx.now,
                resolution="split" if split_off else "alerts",
                ended_at=ended,
                counted=not split_off,
            )
    ctx.incident_changed(incident)
