"""`run <runbook> [key=value …] [--incident INC] [--dry-run]`: plan a runbook run, ask for the
approvals its risk needs, and start it; progress goes to one message edited in place."""

from __future__ import annotations

import difflib
from datetime import timedelta
from typing import Annotated

from pydantic import BaseModel, Field

from core.incidents import display_id
from runbooks.plan import PlanError
from runbooks.policy import RateLimiter, approvals_needed, may_run
from runbooks.schema import Runbook
from skills.context import SkillContext
from skills.contract import Reply, Role
from skills.errors import NotFoundError, PermissionDeniedError, UsageError, UserError
from skills.formatting import duration
from skills.grammar import Positional
from skills.lookups import load_incident
from skills.registry import Skill
from skills.views.run_card import run_message, run_ref
from storage.models import IncidentRow

HOUR = timedelta(hours=1)


class RunArgs(BaseModel):
    runbook: Annotated[str, Positional()] = Field(description="the runbook's name")
    arguments: Annotated[list[str], Positional(rest=True)] = Field(
        default_factory=list, description="parameters as key=value"
    )
    incident: str | None = Field(default=None, description="the incident this run is for")
    dry_run: bool = Field(default=False, description="show the plan, run nothing")


def actor_key(ctx: SkillContext) -> str:
    """Who, across platforms: approvals compare these, never display names."""
    return f"{ctx.actor.platform}:{ctx.actor.user_id}"


def parse_arguments(words: list[str]) -> dict[str, str]:
    arguments: dict[str, str] = {}
    for word in words:
        key, equals, value = word.partition("=")
        if not equals or not key:
            raise UsageError(f"`{word}` is not a parameter; write them as key=value.")
        arguments[key] = value
    return arguments


def from_labels(runbook: Runbook, labels: dict[str, str], given: dict[str, str]) -> dict[str, str]:
    """Parameters the incident's labels can answer (a `deployment` label for `deployment`)."""
    filled = dict(given)
    for parameter in runbook.parameters:
        if parameter.name not in filled and not parameter.secret and labels.get(parameter.name):
            filled[parameter.name] = labels[parameter.name]
    return filled


class RunSkill(Skill[RunArgs]):
    verb = "run"
    aliases = ("execute",)
    summary = "Run a runbook: plan, approvals, live progress, rollback on failure."
    role = Role.RESPONDER
    args_model = RunArgs

    async def handle(self, ctx: SkillContext, args: RunArgs) -> Reply:
        entry = ctx.tools.runbooks.get(args.runbook)
        if entry is None:
            names = list(ctx.tools.runbooks.entries())
            close = difflib.get_close_matches(args.runbook, names, n=1)
            hint = f" Did you mean `{close[0]}`?" if close else " Try `runbooks`."
            raise NotFoundError(f"There is no runbook `{args.runbook}`.{hint}")
        runbook = entry.runbook
        if not (allowed := may_run(runbook, ctx.role.label)):
            raise PermissionDeniedError(f"You cannot run this: {allowed.reason}.")
        given = parse_arguments(args.arguments)
        if secret := [n for n in given if (p := runbook.parameter(n)) is not None and p.secret]:
            raise UsageError(
                f"{', '.join(secret)} is secret: it comes from Lookout's environment, never chat."
            )
        incident = await self._incident(ctx, args.incident)
        if incident is not None:
            alerts = await ctx.alerts.for_incident(incident_id=incident.id)
            firing = [alert for alert in alerts if alert.status == "firing"] or alerts
            if firing:
                given = from_labels(runbook, dict(firing[0].labels), given)
        planner = ctx.tools.planner
        if planner is None:
            raise UserError("Running runbooks is not set up on this Lookout.")
        try:
            plan = planner.plan(runbook, given, services=None, now=ctx.now)
        except PlanError as error:
            raise UserError(f"Cannot run {runbook.name}: {'; '.join(error.problems)}.") from None
        if not args.dry_run:
            limit = RateLimiter.for_runbook(runbook).check(
                await ctx.runs.starts_since(runbook=runbook.name, since=ctx.now - HOUR), ctx.now
            )
            if not limit:
                wait = f"; try again in {duration(limit.retry_after)}" if limit.retry_after else ""
                raise UserError(f"{runbook.name} {limit.reason}{wait}.")
        needed = approvals_needed(runbook)
        status = "planned" if args.dry_run else ("pending_approval" if needed else "approved")
        conversation = ctx.conversation
        run = await ctx.runs.create(
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
            dry_run=args.dry_run,
            plan=plan.describe(plan.redactor(planner.config)),
            now=ctx.now,
        )
        run.plan = {**run.plan, "digest": plan.digest, "planned_at": plan.planned_at.isoformat()}
        if incident is not None:
            verb = "planned (dry run)" if args.dry_run else "requested"
            who = ctx.actor.display_name
            await ctx.incidents.add_event(
                incident_id=incident.id,
                kind="runbook",
                text=f"Runbook {runbook.name} {verb} by {who} ({run_ref(run.id)})",
                at=ctx.now,
                actor=ctx.actor.display_name,
                data={"run": run.id},
            )
        if args.dry_run:
            return run_message(run)
        if status == "approved":
            ctx.runs_to_start.add(run.id)
        where = f"the thread of {display_id(incident.id)}" if incident else "this conversation"
        waiting = ", waiting for approval" if needed else ", starting"
        return Reply.text(
            f"{run_ref(run.id)} · {runbook.title}{waiting}; progress in {where}.",
            visibility="ephemeral",
        )

    @staticmethod
    async def _incident(ctx: SkillContext, reference: str | None) -> IncidentRow | None:
        if reference is None and ctx.conversation.incident_id is None:
            return None
        return await load_incident(ctx, reference)
