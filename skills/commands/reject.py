"""`reject <run> [reason]`: turn down a runbook run waiting for approval."""

from __future__ import annotations

from skills.commands.run_control import RunIdArgs, load_run
from skills.context import SkillContext
from skills.contract import Reply, Role
from skills.registry import Skill
from skills.views.run_card import run_ref
from storage.runs import touch


class RejectSkill(Skill[RunIdArgs]):
    verb = "reject"
    summary = "Reject a runbook run waiting for approval."
    role = Role.RESPONDER
    args_model = RunIdArgs

    async def handle(self, ctx: SkillContext, args: RunIdArgs) -> Reply:
        run = await load_run(ctx, args.run, "pending_approval")
        why = f": {args.reason}" if args.reason else ""
        touch(run, status="rejected", detail=f"Rejected by {ctx.actor.display_name}{why}")
        return Reply.text(f"Rejected {run_ref(run.id)}.", visibility="ephemeral")
