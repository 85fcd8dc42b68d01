"""`cancel <run> [reason]`: stop a runbook run between steps (or before it starts)."""

from __future__ import annotations

from skills.commands.run_control import RunIdArgs, load_run, record_event
from skills.context import SkillContext
from skills.contract import Reply, Role
from skills.registry import Skill
from skills.views.run_card import run_ref
from storage.runs import touch

# Dropped from the card's note once the run has stopped.
STOPPING = " — stopping after the current step."


class CancelSkill(Skill[RunIdArgs]):
    verb = "cancel"
    aliases = ("stop",)
    summary = "Cancel a runbook run (say why after its id); a running one stops between steps."
    role = Role.RESPONDER
    args_model = RunIdArgs

    async def handle(self, ctx: SkillContext, args: RunIdArgs) -> Reply:
        run = await load_run(ctx, args.run, "pending_approval", "approved", "running")
        ref = run_ref(run.id)
        why = f": {args.reason}" if args.reason else ""
        who = f"Cancelled by {ctx.actor.display_name}{why}"
        ctx.messages_changed = True
        await record_event(
            ctx, run, f"{ref} ({run.runbook}) cancelled by {ctx.actor.display_name}{why}"
        )
        if run.status == "running":
            touch(run, cancel_requested=True, detail=f"{who}{STOPPING}")
            return Reply.text(f"Stopping {ref} after its current step.", visibility="ephemeral")
        touch(run, status="cancelled", detail=who)
        return Reply.text(f"Cancelled {ref} before it started.", visibility="ephemeral")
