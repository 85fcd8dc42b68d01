"""`confirm <run> [comment]`: a person confirms the manual step a runbook run is waiting on;
who and their comment go on the run's card and the incident's timeline."""

from __future__ import annotations

from skills.commands.run_control import RunIdArgs, load_run, record_event
from skills.context import SkillContext
from skills.contract import Reply, Role
from skills.errors import ConflictError
from skills.registry import Skill
from skills.views.run_card import run_ref
from storage.runs import touch


class ConfirmSkill(Skill[RunIdArgs]):
    verb = "confirm"
    summary = "Confirm the manual step a runbook run is waiting on (a comment may follow its id)."
    role = Role.RESPONDER
    args_model = RunIdArgs

    async def handle(self, ctx: SkillContext, args: RunIdArgs) -> Reply:
        run = await load_run(ctx, args.run, "running")
        waiting = run.steps.get("waiting")
        ref = run_ref(run.id)
        if not waiting:
            raise ConflictError(f"{ref} is not waiting for a confirmation.")
        number = int(waiting["number"])
        name = str(waiting.get("name") or f"step {number}")
        confirmation = {
            "phase": str(waiting.get("phase", "steps")),
            "number": number,
            "by": ctx.actor.display_name,
            "comment": args.reason,
            "at": ctx.now.isoformat(),
        }
        confirmations = [*run.steps.get("confirmations", []), confirmation]
        touch(run, confirmed_step=number, steps={**run.steps, "confirmations": confirmations})
        ctx.messages_changed = True
        said = f": {args.reason}" if args.reason else ""
        await record_event(
            ctx, run, f"{ref} step {number} ({name}) confirmed by {ctx.actor.display_name}{said}"
        )
        return Reply.text(f"Confirmed step {number} of {ref}.", visibility="ephemeral")
