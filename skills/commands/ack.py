"""`ack <incident>`: take the incident; records who and when (MTTA)."""

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


class AckArgs(BaseModel):
    incident: Annotated[str | None, Positional(incident=True)] = Field(
        default=None, description="incident id (INC-42); defaults to the thread's incident"
    )


class AckSkill(Skill[AckArgs]):
    verb = "ack"
    aliases = ("acknowledge",)
    summary = "Acknowledge an incident: you are on it, stop escalating."
    role = Role.RESPONDER
    args_model = AckArgs

    async def handle(self, ctx: SkillContext, args: AckArgs) -> Reply:
        incident = await load_incident(ctx, args.incident)
        ref = display_id(incident.id)
        if incident.status in (
            IncidentStatus.ACKNOWLEDGED,
            IncidentStatus.INVESTIGATING,
            IncidentStatus.MITIGATED,
        ):
            raise ConflictError(f"{ref} was already acknowledged by {incident.acknowledged_by}.")
        if incident.status == IncidentStatus.RESOLVED:
            raise ConflictError(f"{ref} is already resolved; nothing to acknowledge.")
        incident.status = IncidentStatus.ACKNOWLEDGED.value
        await ctx.episodes.acknowledged(incident=incident, by=ctx.actor.display_name, at=ctx.now)
        took = ctx.now - incident.opened_at
        mtta = duration(took)
        await ctx.incidents.add_event(
            incident_id=incident.id,
            kind="acknowledged",
            text=f"Acknowledged by {ctx.actor.display_name} (MTTA {mtta})",
            at=ctx.now,
            actor=ctx.actor.display_name,
            data={"mtta_seconds": took.total_seconds(), "episode": incident.episode},
        )
        ctx.incident_changed(incident)
        return Reply.text(
            f"✅ {ref} acknowledged by **{ctx.actor.display_name}** — time to acknowledge {mtta}.",
            incident_id=incident.id,
        )
