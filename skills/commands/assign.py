"""`assign [incident] <person>`: give an incident an owner, shown on its card, in
`incidents` and in `show`; `assign [incident] nobody` clears it."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

from core.incidents import display_id
from skills.context import SkillContext
from skills.contract import Reply, Role
from skills.errors import ConflictError, UsageError
from skills.grammar import Positional
from skills.lookups import incident_first, load_incident
from skills.people import find_person
from skills.registry import Skill

NOBODY = ("nobody", "none", "-")
USAGE = "Usage: `assign [incident] <@person|me|nobody>`"


class AssignArgs(BaseModel):
    incident: Annotated[str | None, Positional(incident=True)] = Field(
        default=None, description="incident id (INC-42); defaults to the thread's incident"
    )
    person: Annotated[str | None, Positional(rest=True)] = Field(
        default=None,
        max_length=300,
        description="`me`, a mention (@name), a user Lookout knows, or `nobody`",
    )


class AssignSkill(Skill[AssignArgs]):
    verb = "assign"
    aliases = ("owner",)
    summary = "Give an incident an owner (or `nobody`)."
    role = Role.RESPONDER
    args_model = AssignArgs

    async def handle(self, ctx: SkillContext, args: AssignArgs) -> Reply:
        reference, named = incident_first(args.incident, args.person)
        if not named:
            raise UsageError(f"Whom should it be assigned to? {USAGE}")
        incident = await load_incident(ctx, reference)
        ref = display_id(incident.id)
        if incident.merged_into is not None:
            raise ConflictError(
                f"{ref} was merged into {display_id(incident.merged_into)}; assign that one."
            )
        who = ctx.actor.display_name
        before = incident.owner_name
        if named.strip().lower() in NOBODY:
            if before is None:
                raise ConflictError(f"{ref} has no owner.")
            incident.owner_platform = incident.owner_id = incident.owner_name = None
            text, answer = f"Owner {before} removed by {who}", f"{ref} has no owner now ({who})."
            owner: dict[str, str | None] = {"platform": None, "id": None, "name": None}
        else:
            person = await find_person(ctx, named)
            if (incident.owner_platform, incident.owner_id) == (person.platform, person.user_id):
                raise ConflictError(f"{ref} is already {person.name}'s.")
            incident.owner_platform = person.platform
            incident.owner_id = person.user_id[:255]
            incident.owner_name = person.name[:255]
            text = f"Assigned to {person.name} by {who}"
            if before:
                text += f" (was {before})"
            answer = f"👤 {ref} is now **{person.name}**'s ({who})."
            owner = {"platform": person.platform, "id": person.user_id, "name": person.name}
        await ctx.incidents.add_event(
            incident_id=incident.id,
            kind="assigned",
            text=text,
            at=ctx.now,
            actor=who,
            data={"owner": owner, "previous": before},
        )
        ctx.incident_changed(incident)
        return Reply.text(answer, incident_id=incident.id)
