"""`resolve <incident> [note…]`: close the incident; records who, when and why (MTTR)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

from core.incidents import IncidentStatus, display_id
from skills.context import SkillContext
from skills.contract import Reply, Role
from skills.errors import ConflictError
from skills.formatting import duration
from skills.grammar import Positional
from skills.lookups import load_incident
from skills.registry import Skill


class ResolveArgs(BaseModel):
    incident: Annotated[str | None, Positional()] = Field(
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
        incident.status = IncidentStatus.RESOLVED.value
        incident.resolved_at = ctx.now
        incident.resolved_by = ctx.actor.display_name
        mttr = duration(ctx.now - incident.created_at)
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
                "mttr_seconds": (ctx.now - incident.created_at).total_seconds(),
                "note": args.note,
            },
        )
        ctx.incident_changed(incident)
        answer = f"✅ {ref} resolved by **{ctx.actor.display_name}** after {mttr}."
        if args.note:
            answer += f"\nNote: {args.note}"
        return Reply.text(answer, incident_id=incident.id)
