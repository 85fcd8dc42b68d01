"""Shared by `approve`, `reject`, `cancel` and `confirm`: find the run, check its state."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field, model_validator

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

    @model_validator(mode="before")
    @classmethod
    def _run_asked_for_by_the_command(cls, data: object) -> object:
        # Without an id the command itself asks which run (`load_run`), naming its own verb.
        if isinstance(data, dict) and "run" not in data:
            return {**data, "run": ""}
        return data


# What a run in each finished state did, and what nothing can be done with any more.
FINISHED_STATES = {
    "succeeded": "already finished (succeeded)",
    "failed": "already finished (failed)",
    "rolled_back": "already finished (failed, rolled back)",
    "cancelled": "was cancelled",
    "interrupted": "was interrupted",
    "rejected": "was rejected",
    "expired": "expired: nobody approved it in time",
}
NOTHING_WAITING = {
    "approve": "nothing is waiting for approval",
    "reject": "nothing is waiting for approval",
    "confirm": "nothing is waiting for a confirmation",
    "cancel": "there is nothing left to cancel",
}


def wrong_state(run: RunbookRunRow, verb: str) -> str:
    """Why `verb` cannot act on `run` as it is now, and what the person can do instead."""
    ref = run_ref(run.id)
    if verb == "run":  # `run --plan R-n` takes a dry run
        return (
            f"{ref} is not a dry run; `run --plan` takes the id of a plan "
            "(`run <runbook> … --dry-run`)."
        )
    if run.status == "planned":
        return (
            f"{ref} is a dry run (a plan): nothing of it runs; `run --plan {ref}` asks for a "
            "real run."
        )
    nothing = NOTHING_WAITING.get(verb, "there is nothing to do with it")
    if run.status in FINISHED_STATES:
        return f"{ref} {FINISHED_STATES[run.status]}; {nothing}."
    if run.status == "pending_approval":
        return f"{ref} has not started: it is waiting for approval (`approve {ref}`)."
    if verb == "confirm":
        return f"{ref} is starting; no step is waiting for a confirmation yet."
    doing = "starting" if run.status == "approved" else "running"
    return f"{ref} is already approved and {doing}; `cancel {ref}` stops it between steps."


async def load_run(ctx: SkillContext, reference: str, *states: str) -> RunbookRunRow:
    """The run `reference` names, in one of `states` (any when none given). Raises
    UsageError, NotFoundError (none, or one of a project the actor is not in),
    PermissionDeniedError (the actor's role in its project is below the skill's) or
    ConflictError (another state: `wrong_state`)."""
    if not reference.strip():
        verb = ctx.invocation.skill
        example = "run --plan R-12" if verb == "run" else f"{verb} R-12"
        raise UsageError(f"Which run? Write `{example}`.")
    try:
        run_id = parse_run_ref(reference)
    except ValueError as error:
        raise UsageError(f"{error}.") from None
    run = await ctx.runs.get(run_id=run_id, for_update=True)
    if run is None:  # or another project's, which the actor may not see
        raise NotFoundError(f"There is no run {run_ref(run_id)}.")
    ctx.access.require(run.project, ctx.required_role, ctx.invocation.skill, run_ref(run_id))
    if states and run.status not in states:
        raise ConflictError(wrong_state(run, ctx.invocation.skill))
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
