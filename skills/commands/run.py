"""`run <runbook> [key=value …] [--incident INC] [--dry-run]`: plan a runbook run, ask for the
approvals its risk needs, and start it; progress goes to one message edited in place.

For an incident, parameters are read from its alerts (see `runbooks.sources`) and every value
says where it came from; whatever is still missing is asked for all at once, with a form.
A dry run's plan carries **Run this** (`run --plan R-12`), which requests exactly that plan.
`run show R-12 [step]` shows a run, or one step's whole output.
"""

from __future__ import annotations

import difflib
from datetime import datetime, timedelta
from typing import Annotated

from pydantic import BaseModel, Field

from core.incidents import display_id
from runbooks.catalog import CatalogEntry
from runbooks.fit import fit
from runbooks.plan import PlanError
from runbooks.policy import RateLimiter, approvals_needed, may_run
from runbooks.schema import Runbook
from runbooks.sources import DEFAULT, Filled, fill_parameters
from skills.commands.run_arguments import fold_look_alikes, parse_arguments, refuse_unknown
from skills.commands.run_control import load_run, runbook_of
from skills.commands.run_form import missing_parameters
from skills.commands.run_show import show_run
from skills.commands.runbook_facts import (
    catalog_services,
    incident_alerts,
    root_cause,
    service_names,
    visible_runbooks,
)
from skills.context import SkillContext
from skills.contract import Reply, Role
from skills.errors import (
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    UsageError,
    UserError,
)
from skills.formatting import duration
from skills.grammar import Positional
from skills.lookups import load_incident
from skills.registry import Skill
from skills.views.run_card import run_message, run_ref
from storage.models import IncidentRow, RunbookRunRow

HOUR = timedelta(hours=1)
WAITING = {
    "one": "waiting for a responder to approve",
    "two": "waiting for a second person to approve",
}


class RunArgs(BaseModel):
    runbook: Annotated[str | None, Positional()] = Field(
        default=None, description="the runbook's name (`run show R-12 [step]` shows a run)"
    )
    arguments: Annotated[list[str], Positional(rest=True)] = Field(
        default_factory=list, description="parameters as key=value"
    )
    incident: str | None = Field(default=None, description="the incident this run is for")
    dry_run: bool = Field(default=False, description="show the plan, run nothing")
    plan: str | None = Field(default=None, description="run what dry run R-12 planned")


def actor_key(ctx: SkillContext) -> str:
    """Who, across platforms: approvals compare these, never display names."""
    return f"{ctx.actor.platform}:{ctx.actor.user_id}"


class RunSkill(Skill[RunArgs]):
    verb = "run"
    aliases = ("execute",)
    summary = "Run a runbook: plan, approvals, live progress, rollback on failure."
    role = Role.RESPONDER
    args_model = RunArgs

    async def handle(self, ctx: SkillContext, args: RunArgs) -> Reply:
        if args.runbook == "show":
            return await show_run(ctx, args.arguments)
        if args.plan is not None:
            return await self._from_plan(ctx, args)
        if args.runbook is None:
            raise UsageError(
                "Which runbook? `runbooks --incident INC-42` suggests some. "
                "Usage: `run <runbook> [key=value…] [--incident I] [--dry-run]`"
            )
        entry = _entry(ctx, args.runbook)
        runbook = entry.runbook
        given = parse_arguments(args.arguments)
        refuse_unknown(runbook, given)
        if secret := [n for n in given if (p := runbook.parameter(n)) is not None and p.secret]:
            raise UsageError(
                f"{', '.join(secret)} is secret: it comes from Lookout's environment, never chat."
            )
        given = fold_look_alikes(runbook, given, services=service_names(ctx))
        incident = await _incident(ctx, args.incident)
        filled = await _filled(ctx, runbook, given, incident)
        reply, _ = await _request(ctx, entry, filled, incident, dry_run=args.dry_run, args=args)
        return reply

    async def _from_plan(self, ctx: SkillContext, args: RunArgs) -> Reply:
        """`run --plan R-12`: request exactly what dry run R-12 showed."""
        typed_values = args.runbook is not None and "=" in args.runbook
        if args.arguments or args.dry_run or typed_values:
            raise UsageError(
                "`--plan` runs a plan as it was shown; to change it, plan again "
                "(`run <runbook> key=value … --dry-run`)."
            )
        planned = await load_run(ctx, args.plan or "", "planned")
        ref = run_ref(planned.id)
        if args.runbook is not None and args.runbook != planned.runbook:
            raise UsageError(f"{ref} planned {planned.runbook}, not {args.runbook}.")
        followed = planned.plan.get("followed_by")
        if followed:
            raise ConflictError(f"{ref} was already requested as {run_ref(int(followed))}.")
        runbook_of(ctx, planned)
        entry = _entry(ctx, planned.runbook)
        incident = (
            await load_incident(ctx, display_id(planned.incident_id))
            if planned.incident_id
            else None
        )
        if _changed_since(ctx, entry, planned):
            raise ConflictError(
                f"{entry.runbook.name} changed since {ref} was planned; plan it again to see "
                "what it would run now."
            )
        sources = {str(k): str(v) for k, v in planned.plan.get("sources", {}).items()}
        filled = Filled(dict(planned.arguments), sources)
        reply, run_id = await _request(ctx, entry, filled, incident, dry_run=False, args=args)
        if run_id is not None:
            planned.plan = {**planned.plan, "followed_by": run_id}
        return reply


def _changed_since(ctx: SkillContext, entry: CatalogEntry, planned: RunbookRunRow) -> bool:
    """Whether the runbook would now run other commands than the dry run showed (planned
    again as of the dry run's time, so a `{{now}}` in a step does not count as a change)."""
    planner = ctx.tools.planner
    if planner is None or "planned_at" not in planned.plan:
        return False
    try:
        again = planner.plan(
            entry.runbook,
            planned.arguments,
            services=service_names(ctx),
            now=datetime.fromisoformat(str(planned.plan["planned_at"])),
            strict=False,
        )
    except PlanError:
        return True
    return again.digest != planned.plan.get("digest")


def _entry(ctx: SkillContext, name: str) -> CatalogEntry:
    """The runbook `name`; NotFoundError when there is none, or it is the runbook of a
    project the actor is not in."""
    entry = ctx.tools.runbooks.get(name)
    if (
        entry is not None
        and entry.runbook.project
        and not ctx.access.can_see(entry.runbook.project)
    ):
        entry = None
    if entry is None:
        names = list(visible_runbooks(ctx))
        close = difflib.get_close_matches(name, names, n=1)
        hint = f" Did you mean `{close[0]}`?" if close else " Try `runbooks`."
        raise NotFoundError(f"There is no runbook `{name}`.{hint}")
    return entry


async def _incident(ctx: SkillContext, reference: str | None) -> IncidentRow | None:
    if reference is None and ctx.conversation.incident_id is None:
        return None
    return await load_incident(ctx, reference)


async def _filled(
    ctx: SkillContext, runbook: Runbook, given: dict[str, str], incident: IncidentRow | None
) -> Filled:
    """The given values, and for an incident what its alerts answer (best-fitting first)."""
    if incident is None:
        return fill_parameters(runbook, given, services=service_names(ctx))
    alerts = await incident_alerts(ctx, incident)
    best = fit(runbook, alerts, services=catalog_services(ctx), root_cause=root_cause(incident))
    return fill_parameters(runbook, given, alerts, first=best.alert, services=service_names(ctx))


async def _request(
    ctx: SkillContext,
    entry: CatalogEntry,
    filled: Filled,
    incident: IncidentRow | None,
    *,
    dry_run: bool,
    args: RunArgs,
) -> tuple[Reply, int | None]:
    """Plan and record the run (or the dry run); the reply and the new run's id, or a form
    asking for missing parameters and None."""
    runbook = entry.runbook
    if not dry_run and not (allowed := may_run(runbook, ctx.role.label)):
        raise PermissionDeniedError(f"You cannot run this: {allowed.reason}.")
    planner = ctx.tools.planner
    if planner is None:
        raise UserError("Running runbooks is not set up on this Lookout.")
    try:
        plan = planner.plan(
            runbook, filled.arguments, services=service_names(ctx), now=ctx.now, strict=not dry_run
        )
    except PlanError as error:
        if error.missing or error.invalid:
            form = missing_parameters(
                runbook, filled, error, incident=incident, dry_run=dry_run, given=args.arguments
            )
            return form, None
        raise UserError(f"Cannot run {runbook.name}: {'; '.join(error.problems)}.") from None
    if not dry_run:
        limit = RateLimiter.for_runbook(runbook).check(
            await ctx.runs.starts_since(runbook=runbook.name, since=ctx.now - HOUR), ctx.now
        )
        if not limit:
            wait = f"; try again in {duration(limit.retry_after)}" if limit.retry_after else ""
            raise UserError(f"{runbook.name} {limit.reason}{wait}.")
    needed = approvals_needed(runbook)
    status = "planned" if dry_run else ("pending_approval" if needed else "approved")
    conversation = ctx.conversation
    sources = {
        name: filled.sources.get(name, DEFAULT)
        for name in plan.parameters
        if name not in plan.secret_parameters
    }
    # A run is its incident's project's; without one, the project it was asked in.
    project = incident.project if incident is not None else ctx.access.project
    run = await ctx.runs.create(
        project=project,
        runbook=runbook.name,
        version=entry.version,
        title=runbook.title,
        risk=runbook.risk,
        # Secrets never reach the database: they come from the environment at run time.
        arguments={k: v for k, v in plan.parameters.items() if k not in plan.secret_parameters},
        incident_id=incident.id if incident else None,
        requested_by=actor_key(ctx),
        requested_by_name=ctx.actor.display_name,
        platform=conversation.platform,
        channel=conversation.channel,
        thread=conversation.thread,
        status=status,
        approvals_needed=needed,
        dry_run=dry_run,
        plan=plan.describe(plan.redactor(planner.config)),
        now=ctx.now,
    )
    run.plan = {
        **run.plan,
        "digest": plan.digest,
        "planned_at": plan.planned_at.isoformat(),
        "approval": runbook.approval,
        "sources": sources,
        "notes": filled.notes,
        "blocked": list(plan.blocked),
    }
    if args.plan is not None:
        run.plan = {**run.plan, "from_plan": args.plan.upper()}
    if incident is not None:
        verb = "planned (dry run)" if dry_run else "requested"
        await ctx.incidents.add_event(
            incident_id=incident.id,
            kind="runbook",
            text=f"Runbook {runbook.name} {verb} by {ctx.actor.display_name} ({run_ref(run.id)})",
            at=ctx.now,
            actor=ctx.actor.display_name,
            data={"run": run.id},
        )
    if dry_run:
        return run_message(run), run.id
    # The run's card is a tracked message: wake the notifier now rather than at its next
    # idle pass, so the Approve button appears as fast as any answer.
    ctx.messages_changed = True
    if status == "approved":
        ctx.runs_to_start.add(run.id)
    where = f"the thread of {display_id(incident.id)}" if incident else "this conversation"
    waiting = WAITING.get(runbook.approval, "starting")
    reply = Reply.text(
        f"{run_ref(run.id)} · {runbook.title}, {waiting}; progress in {where}.",
        visibility="ephemeral",
    )
    return reply, run.id
