"""`reject <run> [reason]`: turn down a runbook run waiting for approval."""

from __future__ import annotations

from skills.commands.run_control import RunIdArgs, load_run, record_event
from skills.context import SkillContext
from skills.contract import Reply, Role
from skills.registry import Skill
from skills.views.run_card import run_ref
from storage.runs import touch


class RejectSkill(Skill[RunIdArgs]):
    verb = "reject"
    summary = "Reject a runbook run waiting for approval (say why after its id)."
    role = Role.RESPONDER
    args_model = RunIdArgs

    async def handle(self, ctx: SkillContext, args: RunIdArgs) -> Reply:
        run = await load_run(ctx, args.run, "pending_approval")
        ref = run_ref(run.id)
        why = f": {args.reason}" if args.reason else ""
        touch(run, status="rejected", detail=f"Rejected by {ctx.actor.display_name}{why}")
        ctx.messages_changed = True
        await record_event(
            ctx, run, f"{ref} ({run.runbook}) rejected by {ctx.actor.display_name}{why}"
        )
        return Reply.text(f"Rejected {ref}.", visibility="ephemeral")
