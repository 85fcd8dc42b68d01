"""`status [incident] investigating|mitigated`: move an incident along its lifecycle.

triggered → acknowledged → investigating → mitigated → resolved; `ack` and `resolve` take the
first and last steps, this one the two between (a mitigation that does not hold goes back to
investigating). Moving a triggered incident on also acknowledges it, for MTTA.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

from core.incidents import (
    IncidentStatus,
    InvalidTransition,
    check_transition,
    display_id,
)
from skills.commands.note import split_reference
from skills.context import SkillContext
from skills.contract import Reply, Role
from skills.errors import ConflictError, UsageError
from skills.grammar import Positional
from skills.lookups import load_incident
from skills.registry import Skill

TARGETS = {
    "investigating": IncidentStatus.INVESTIGATING,
    "mitigated": IncidentStatus.MITIGATED,
}
USAGE = "Usage: `status [incident] investigating|mitigated` (`ack` and `resolve` do the rest)."


class StatusArgs(BaseModel):
    words: Annotated[list[str], Positional(rest=True)] = Field(
        default_factory=list, description="[incident] then investigating or mitigated"
    )


class StatusSkill(Skill[StatusArgs]):
    verb = "status"
    aliases = ("state",)
    summary = "Mark an incident investigating or mitigated (lifecycle between ack and resolve)."
    role = Role.RESPONDER
    args_model = StatusArgs

    async def handle(self, ctx: SkillContext, args: StatusArgs) -> Reply:
        reference, rest = split_reference(args.words)
        if len(rest) != 1 or rest[0].lower() not in TARGETS:
            raise UsageError(USAGE)
        target = TARGETS[rest[0].lower()]
        incident = await load_incident(ctx, reference)
        ref = display_id(incident.id)
        current = IncidentStatus(incident.status)
        try:
            check_transition(current, target)
        except InvalidTransition:
            raise ConflictError(f"{ref} is {current}; it cannot become {target}.") from None
        who = ctx.actor.display_name
        text = f"{target.value.capitalize()} ({who})"
        if current is IncidentStatus.TRIGGERED:
            await ctx.episodes.acknowledged(incident=incident, by=who, at=ctx.now)
            text += "; acknowledged"
        incident.status = target.value
        if target is IncidentStatus.MITIGATED:
            incident.mitigated_at = ctx.now
        await ctx.incidents.add_event(
            incident_id=incident.id,
            kind=target.value,
            text=text,
            at=ctx.now,
            actor=who,
            data={"from": current.value},
        )
        ctx.incident_changed(incident)
        return Reply.text(f"{ref} is now **{target}** ({who}).", incident_id=incident.id)
