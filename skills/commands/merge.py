"""`merge <incident> <other…>`: the others were the same incident; fold them into the first.

Their alerts and timelines move into the first incident, which re-derives its title,
severity and root cause from its current episode's alerts (so an old incident merged in never
names it); each other one is resolved as "merged into INC-n", its episodes no longer counted on
their own, and both timelines say who merged them (the dispatcher audits the command itself).
Incidents whose alerts are hours apart are not one incident: that is refused unless `--force`
says it is meant.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from pydantic import BaseModel, Field

from core.incidents import IncidentStatus, display_id
from skills.commands.membership import rederive
from skills.context import SkillContext
from skills.contract import Reply, Role
from skills.errors import ConflictError, UsageError
from skills.formatting import duration
from skills.grammar import Positional
from skills.lookups import load_incident
from skills.registry import Skill
from storage.models import IncidentRow

# Alerts further apart than this are two incidents, not one (refused without --force).
MAX_GAP = timedelta(hours=2)


class MergeArgs(BaseModel):
    into: Annotated[str, Positional()] = Field(description="the incident that stays (INC-42)")
    others: Annotated[list[str], Positional(rest=True)] = Field(
        description="the incidents to merge into it"
    )
    force: bool = Field(default=False, description="merge even incidents hours apart")


def _gap(one: IncidentRow, other: IncidentRow) -> timedelta:
    """Time between two incidents' alert spans (zero when they overlap)."""
    later, earlier = (one, other) if one.first_alert_at >= other.first_alert_at else (other, one)
    ended = max(earlier.last_alert_at, earlier.resolved_event_at or earlier.last_alert_at)
    return max(later.first_alert_at - ended, timedelta(0))


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
            if source.project != target.project:
                raise ConflictError(
                    f"{display_id(source.id)} belongs to {source.project} and {ref} to "
                    f"{target.project}; incidents of two projects are not merged."
                )
            gap = _gap(target, source)
            if gap > MAX_GAP and not args.force:
                raise ConflictError(
                    f"{display_id(source.id)} and {ref} are {duration(gap)} apart, so they "
                    "look like two incidents; add `--force` to merge them anyway."
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
