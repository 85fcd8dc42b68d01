"""`unack [incident]`: give an acknowledged incident back; it is triggered again and its
escalation starts over as its policy says (the escalation pass restarts it)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

from core.incidents import IncidentStatus, display_id
from skills.context import SkillContext
from skills.contract import Reply, Role
from skills.errors import ConflictError
from skills.grammar import Positional
from skills.lookups import load_incident
from skills.registry import Skill

TAKEN = (IncidentStatus.ACKNOWLEDGED, IncidentStatus.INVESTIGATING, IncidentStatus.MITIGATED)


class UnackArgs(BaseModel):
    incident: Annotated[str | None, Positional(incident=True)] = Field(
        default=None, description="incident id (INC-42); defaults to the thread's incident"
    )


class UnackSkill(Skill[UnackArgs]):
    verb = "unack"
    aliases = ("unacknowledge",)
    summary = "Give an acknowledged incident back: triggered again, escalation starts over."
    role = Role.RESPONDER
    args_model = UnackArgs

    async def handle(self, ctx: SkillContext, args: UnackArgs) -> Reply:
        incident = await load_incident(ctx, args.incident)
        ref = display_id(incident.id)
        status = IncidentStatus(incident.status)
        if status is IncidentStatus.RESOLVED:
            raise ConflictError(
                f"{ref} is resolved, so there is no acknowledgement to take back; "
                "it reopens by itself if its alerts fire again."
            )
        if status not in TAKEN:
            raise ConflictError(f"{ref} is not acknowledged; nothing to take back.")
        who = ctx.actor.display_name
        before = incident.acknowledged_by
        incident.status = IncidentStatus.TRIGGERED.value
        incident.mitigated_at = None
        await ctx.episodes.unacknowledged(incident=incident)
        text = f"Unacknowledged by {who}"
        if before and before != who:
            text += f" (was acknowledged by {before})"
        await ctx.incidents.add_event(
            incident_id=incident.id,
            kind="unacknowledged",
            text=text,
            at=ctx.now,
            actor=who,
            data={"from": status.value, "acknowledged_by": before, "episode": incident.episode},
        )
        ctx.incident_changed(incident)
        return Reply.text(
            f"↩️ {ref} is triggered again ({who}); escalation starts over as its policy says.",
            incident_id=incident.id,
        )
