"""`confirm <run>`: a person confirms the manual step a runbook run is waiting on."""

from __future__ import annotations

from skills.commands.run_control import RunIdArgs, load_run
from skills.context import SkillContext
from skills.contract import Reply, Role
from skills.errors import ConflictError
from skills.registry import Skill
from skills.views.run_card import run_ref
from storage.runs import touch


class ConfirmSkill(Skill[RunIdArgs]):
    verb = "confirm"
    summary = "Confirm the manual step a runbook run is waiting on."
    role = Role.RESPONDER
    args_model = RunIdArgs

    async def handle(self, ctx: SkillContext, args: RunIdArgs) -> Reply:
        run = await load_run(ctx, args.run, "running")
        waiting = run.steps.get("waiting")
        if not waiting:
            raise ConflictError(f"{run_ref(run.id)} is not waiting for a confirmation.")
        touch(run, confirmed_step=int(waiting["number"]))
        return Reply.text(
            f"Confirmed step {waiting['number']} of {run_ref(run.id)}.", visibility="ephemeral"
        )
