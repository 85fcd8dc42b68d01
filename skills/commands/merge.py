"""`merge <incident> <other…>`: the others were the same incident; fold them into the first.

Their alerts and timelines move into the first incident, which re-derives its title,
severity and root cause; each other one is resolved as "merged into INC-n", and both
timelines say who merged them (the dispatcher audits the command itself).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

from core.incidents import IncidentStatus, display_id
from skills.commands.membership import rederive
from skills.context import SkillContext
from skills.contract import Reply, Role
from skills.errors import ConflictError, UsageError
from skills.grammar import Positional
from skills.lookups import load_incident
from skills.registry import Skill


class MergeArgs(BaseModel):
    into: Annotated[str, Positional()] = Field(description="the incident that stays (INC-42)")
    others: Annotated[list[str], Positional(rest=True)] = Field(
        description="the incidents to merge into it"
    )


class MergeSkill(Skill[MergeArgs]):
    verb = "merge"
    summary = "Merge incidents into the first one: alerts, timeline and all."
    role = Role.RESPONDER
    args_model = MergeArgs

    async def handle(self, ctx: SkillContext, args: MergeArgs) -> Reply:
        target = await load_incident(ctx, args.into)
        ref = display_id(target.id)
        if target.merged_into is not None:
            raise ConflictError(
                f"{ref} was merged into {display_id(target.merged_into)}; merge into that one."
            )
        if target.status == IncidentStatus.RESOLVED:
            raise ConflictError(f"{ref} is resolved; merge into an open incident.")
        sources = []
        for reference in dict.fromkeys(args.others):
            source = await load_incident(ctx, reference)
            if source.id == target.id:
                raise UsageError(f"{ref} cannot be merged into itself.")
            if source.merged_into is not None:
                raise ConflictError(
                    f"{display_id(source.id)} is already merged into "
                    f"{display_id(source.merged_into)}."
                )
            sources.append(source)
        who = ctx.actor.display_name
        for source in sources:
            await ctx.incidents.merge(
                source=source.id,
                target=target.id,
                text=f"{display_id(source.id)} merged into {ref} by {who}",
                at=ctx.now,
                now=ctx.now,
                actor=who,
            )
            ctx.incident_changed(source)
        await rederive(ctx, target)
        merged = ", ".join(display_id(source.id) for source in sources)
        return Reply.text(
            f"🔗 Merged {merged} into **{ref}** ({target.title}).", incident_id=target.id
        )
