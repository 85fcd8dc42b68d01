"""`status [incident] investigating|mitigated`: move an incident along its lifecycle.

triggered → acknowledged → investigating → mitigated → resolved, one step at a time (see
`core.incidents.IncidentStatus`); `ack` and `resolve` take the first and last steps, this one
the two between. Any other move is refused with the step that is possible instead.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field

from core.incidents import (
    IncidentStatus,
    InvalidTransition,
    check_transition,
    display_id,
    next_steps,
)
from skills.context import SkillContext
from skills.contract import Reply, Role
from skills.errors import ConflictError
from skills.grammar import Positional
from skills.lookups import load_incident
from skills.registry import Skill

TARGETS = {
    "investigating": IncidentStatus.INVESTIGATING,
    "mitigated": IncidentStatus.MITIGATED,
}


class StatusArgs(BaseModel):
    incident: Annotated[str | None, Positional(incident=True)] = Field(
        default=None, description="incident id (INC-42); defaults to the thread's incident"
    )
    state: Annotated[Literal["investigating", "mitigated"], Positional()] = Field(
        description="the step the incident has reached"
    )


WAYS = {
    IncidentStatus.ACKNOWLEDGED: "`ack {ref}`",
    IncidentStatus.INVESTIGATING: "`status {ref} investigating`",
    IncidentStatus.MITIGATED: "`status {ref} mitigated`",
    IncidentStatus.RESOLVED: "`resolve {ref}`",
}


def refusal(ref: str, current: IncidentStatus, target: IncidentStatus) -> str:
    """Why `current` cannot become `target`, and what can be done instead."""
    if current is target:
        return f"{ref} is already {current}."
    steps = [WAYS[step].format(ref=ref) for step in next_steps(current) if step in WAYS]
    instead = f" Next: {' or '.join(steps)}." if steps else ""
    return (
        f"{ref} is {current}; it cannot become {target} from there (the lifecycle goes "
        f"triggered → acknowledged → investigating → mitigated → resolved).{instead}"
    )


class StatusSkill(Skill[StatusArgs]):
    verb = "status"
    aliases = ("state",)
    summary = "Mark an incident investigating or mitigated (lifecycle between ack and resolve)."
    role = Role.RESPONDER
    args_model = StatusArgs

    async def handle(self, ctx: SkillContext, args: StatusArgs) -> Reply:
        target = TARGETS[args.state]
        incident = await load_incident(ctx, args.incident)
        ref = display_id(incident.id)
        current = IncidentStatus(incident.status)
        try:
            check_transition(current, target)
        except InvalidTransition:
            raise ConflictError(refusal(ref, current, target)) from None
        who = ctx.actor.display_name
        text = f"{target.value.capitalize()} ({who})"
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
