"""Shared by `approve`, `reject`, `cancel` and `confirm`: find the run, check its state."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

from core.runs import parse_run_ref
from runbooks.schema import Runbook
from skills.context import SkillContext
from skills.errors import ConflictError, NotFoundError, UsageError
from skills.grammar import Positional
from skills.views.run_card import run_ref
from storage.models import RunbookRunRow


class RunIdArgs(BaseModel):
    run: Annotated[str, Positional()] = Field(description="run id, e.g. R-12")
    reason: Annotated[str, Positional(rest=True)] = Field(
        default="", max_length=500, description="why, or a comment (kept in the run's record)"
    )


async def load_run(ctx: SkillContext, reference: str, *states: str) -> RunbookRunRow:
    """The run `reference` names, in one of `states` (any when none given). Raises
    UsageError, NotFoundError (none, or one of a project the actor is not in),
    PermissionDeniedError (the actor's role in its project is below the skill's) or
    ConflictError (another state)."""
    try:
        run_id = parse_run_ref(reference)
    except ValueError as error:
        raise UsageError(f"{error}.") from None
    run = await ctx.runs.get(run_id=run_id, for_update=True)
    if run is None:  # or another project's, which the actor may not see
        raise NotFoundError(f"There is no run {run_ref(run_id)}.")
    ctx.access.require(run.project, ctx.required_role, ctx.invocation.skill, run_ref(run_id))
    if states and run.status not in states:
        raise ConflictError(f"{run_ref(run.id)} is {run.status.replace('_', ' ')}.")
    return run


async def record_event(ctx: SkillContext, run: RunbookRunRow, text: str) -> None:
    """A line in the run's incident's timeline (none without an incident)."""
    if run.incident_id is not None:
        await ctx.incidents.add_event(
            incident_id=run.incident_id,
            kind="runbook",
            text=text,
            at=ctx.now,
            actor=ctx.actor.display_name,
            data={"run": run.id},
        )


def runbook_of(ctx: SkillContext, run: RunbookRunRow) -> Runbook:
    entry = ctx.tools.runbooks.get(run.runbook)
    if entry is None:
        raise ConflictError(f"The runbook {run.runbook} of {run_ref(run.id)} is gone.")
    return entry.runbook
