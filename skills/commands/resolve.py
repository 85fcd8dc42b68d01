"""`resolve <incident> [note…]`: close the incident; records who, when and why (MTTR)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

from core.incidents import IncidentStatus, display_id
from core.wording import plural
from skills.context import SkillContext
from skills.contract import Reply, Role
from skills.errors import ConflictError
from skills.formatting import duration
from skills.grammar import Positional
from skills.lookups import load_incident
from skills.registry import Skill


class ResolveArgs(BaseModel):
    incident: Annotated[str | None, Positional(incident=True)] = Field(
        default=None, description="incident id (INC-42); defaults to the thread's incident"
    )
    note: Annotated[str, Positional(rest=True)] = Field(
        default="", max_length=2000, description="what fixed it, for the timeline"
    )


class ResolveSkill(Skill[ResolveArgs]):
    verb = "resolve"
    aliases = ("close",)
    summary = "Resolve an incident, with an optional note for the timeline."
    role = Role.RESPONDER
    args_model = ResolveArgs

    async def handle(self, ctx: SkillContext, args: ResolveArgs) -> Reply:
        incident = await load_incident(ctx, args.incident)
        ref = display_id(incident.id)
        if incident.status == IncidentStatus.RESOLVED:
            raise ConflictError(f"{ref} is already resolved.")
        await ctx.episodes.resolved(
            incident=incident, by=ctx.actor.display_name, at=ctx.now, resolution="manual"
        )
        # Alerts still firing end here: should Alertmanager send them again, they fire anew
        # (reopening this incident within the grace, or opening a new one), never unseen.
        still_firing = await ctx.alerts.close_firing(incident_id=incident.id, at=ctx.now)
        took = ctx.now - incident.opened_at
        mttr = duration(took)
        text = f"Resolved by {ctx.actor.display_name} (MTTR {mttr})"
        if args.note:
            text += f": {args.note}"
        await ctx.incidents.add_event(
            incident_id=incident.id,
            kind="resolved",
            text=text,
            at=ctx.now,
            actor=ctx.actor.display_name,
            data={
                "mttr_seconds": took.total_seconds(),
                "note": args.note,
                "episode": incident.episode,
                "still_firing": still_firing,
            },
        )
        ctx.incident_changed(incident)
        answer = f"✅ {ref} resolved by **{ctx.actor.display_name}** after {mttr}."
        if args.note:
            answer += f"\nNote: {args.note}"
        if still_firing:
            one = still_firing == 1
            answer += (
                f"\n{plural(still_firing, 'alert')} still firing: if Alertmanager "
                f"sends {'it' if one else 'them'} again, {ref} reopens (or a new incident "
                "opens once the grace has passed)."
            )
        return Reply.text(answer, incident_id=incident.id)
