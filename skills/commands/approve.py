"""`approve <run>`: approve a runbook run; it starts once its policy is satisfied."""

from __future__ import annotations

from runbooks.policy import approval_expired, can_approve, is_approved
from skills.commands.run import actor_key
from skills.commands.run_control import RunIdArgs, load_run, runbook_of
from skills.context import SkillContext
from skills.contract import Reply, Role
from skills.errors import PermissionDeniedError
from skills.registry import Skill
from skills.views.run_card import run_ref
from storage.runs import touch


class ApproveSkill(Skill[RunIdArgs]):
    verb = "approve"
    summary = "Approve a runbook run waiting for approval."
    role = Role.RESPONDER
    args_model = RunIdArgs

    async def handle(self, ctx: SkillContext, args: RunIdArgs) -> Reply:
        run = await load_run(ctx, args.run, "pending_approval")
        runbook = runbook_of(ctx, run)
        ref = run_ref(run.id)
        if approval_expired(runbook, requested_at=run.requested_at, now=ctx.now):
            # An answer, not an error: the run's new state must be committed.
            touch(run, status="expired", detail="Nobody approved it in time.")
            ctx.messages_changed = True
            return Reply.text(
                f"{ref} waited too long for approval; ask for it again.", visibility="ephemeral"
            )
        approvers = [entry["id"] for entry in run.approvals.get("by", [])]
        decision = can_approve(
            runbook,
            requester=run.requested_by,
            approver=actor_key(ctx),
            approver_role=ctx.role.label,
            approvals_so_far=approvers,
        )
        if not decision:
            raise PermissionDeniedError(f"You cannot approve {ref}: {decision.reason}.")
        entry = {"id": actor_key(ctx), "name": ctx.actor.display_name, "at": ctx.now.isoformat()}
        by = [*run.approvals.get("by", []), entry]
        approved = is_approved(runbook, requester=run.requested_by, approvals=[e["id"] for e in by])
        touch(run, approvals={"by": by}, status="approved" if approved else run.status)
        ctx.messages_changed = True
        if approved:
            ctx.runs_to_start.add(run.id)
        if run.incident_id:
            await ctx.incidents.add_event(
                incident_id=run.incident_id,
                kind="runbook",
                text=f"{ref} ({run.runbook}) approved by {ctx.actor.display_name}",
                at=ctx.now,
                actor=ctx.actor.display_name,
                data={"run": run.id},
            )
        state = "starting" if approved else "needs another approval"
        return Reply.text(f"Approved {ref} — {state}.", visibility="ephemeral")
