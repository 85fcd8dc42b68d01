"""`cancel <run>`: stop a runbook run between steps (or before it starts)."""

from __future__ import annotations

from skills.commands.run_control import RunIdArgs, load_run
from skills.context import SkillContext
from skills.contract import Reply, Role
from skills.registry import Skill
from skills.views.run_card import run_ref
from storage.runs import touch


class CancelSkill(Skill[RunIdArgs]):
    verb = "cancel"
    aliases = ("stop",)
    summary = "Cancel a runbook run; a running one stops between steps."
    role = Role.RESPONDER
    args_model = RunIdArgs

    async def handle(self, ctx: SkillContext, args: RunIdArgs) -> Reply:
        run = await load_run(ctx, args.run, "pending_approval", "approved", "running")
        ref = run_ref(run.id)
        who = f"Cancelled by {ctx.actor.display_name}"
        if run.status == "running":
            touch(run, cancel_requested=True, detail=f"{who}; stopping after the current step.")
            return Reply.text(f"Stopping {ref} after its current step.", visibility="ephemeral")
        touch(run, status="cancelled", detail=who)
        return Reply.text(f"Cancelled {ref} before it started.", visibility="ephemeral")
