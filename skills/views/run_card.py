"""A runbook run as one message: plan, approvals, then live progress — edited in place."""

from __future__ import annotations

from typing import Any

from core.incidents import display_id
from skills.contract import Actions, Block, Button, Context, Fields, Reply, Text
from skills.formatting import clock_time
from storage.models import RunbookRunRow

STATUS_WORDS = {
    "pending_approval": "⏳ waiting for approval",
    "approved": "✅ approved, starting",
    "running": "▶️ running",
    "succeeded": "✅ succeeded",
    "failed": "❌ failed",
    "rolled_back": "↩️ failed, rolled back",
    "cancelled": "⏹ cancelled",
    "rejected": "🚫 rejected",
    "expired": "⌛ approval expired",
    "interrupted": "⚠️ interrupted (Lookout restarted)",
    "planned": "📝 dry run: nothing was executed",
}
STEP_MARKS = {"ok": "✓", "failed": "✗", "timed_out": "✗", "cancelled": "⏹", "skipped": "–"}


def run_ref(run_id: int) -> str:
    return f"R-{run_id}"


def parse_run_ref(text: str) -> int:
    cleaned = text.strip().upper().removeprefix("R-").removeprefix("R")
    if not cleaned.isdigit():
        raise ValueError(f"{text!r} is not a run id (try R-12)")
    return int(cleaned)


def _step_lines(run: RunbookRunRow) -> list[str]:
    done: list[dict[str, Any]] = run.steps.get("steps", [])
    current: dict[str, Any] | None = run.steps.get("current")
    planned: list[str] = run.plan.get("steps", [])
    lines: list[str] = []
    finished = {(s["phase"], s["number"]) for s in done}
    for step in done:
        mark = STEP_MARKS.get(step["status"], "?")
        where = "rollback " if step["phase"] == "rollback" else ""
        line = f"{mark} {where}{step['number']}. {step['name']} — {step['seconds']:.1f} s"
        if step.get("error"):
            line += f": {step['error']}"
        lines.append(line)
        if step.get("excerpt"):
            lines.append(f"    `{step['excerpt'][:200]}`")
    if current and (current["phase"], current["number"]) not in finished:
        waiting = run.steps.get("waiting")
        doing = f"waiting for confirmation: {waiting['prompt']}" if waiting else "running…"
        lines.append(f"▶ {current['number']}/{current['total']}. {current['name']} — {doing}")
    if run.status in ("pending_approval", "approved", "planned"):
        lines.extend(f"○ {line}" for line in planned)
    return lines


def run_message(run: RunbookRunRow) -> Reply:
    ref = run_ref(run.id)
    status = STATUS_WORDS.get(run.status, run.status)
    blocks: list[Block] = [Text(f"**{ref} · {run.title}** (`{run.runbook}`) — {status}")]
    approvers = [entry["name"] for entry in run.approvals.get("by", [])]
    fields = [
        ("Requested by", f"{run.requested_by_name} at {clock_time(run.requested_at)}"),
        ("Risk", run.risk),
    ]
    if run.incident_id:
        fields.append(("Incident", display_id(run.incident_id)))
    if run.approvals_needed or approvers:
        fields.append(("Approved by", ", ".join(approvers) or "nobody yet"))
    if run.arguments:
        fields.append(
            ("Parameters", " ".join(f"{k}={v}" for k, v in sorted(run.arguments.items())))
        )
    blocks.append(Fields(tuple(fields)))
    lines = _step_lines(run)
    if lines:
        blocks.append(Text("\n".join(lines)))
    if run.detail:
        blocks.append(Context(run.detail))
    buttons: list[Button] = []
    if run.status == "pending_approval":
        buttons += [
            Button("Approve", "approve", (ref,), style="primary"),
            Button("Reject", "reject", (ref,), style="danger"),
        ]
    elif run.status == "running":
        if run.steps.get("waiting"):
            buttons.append(Button("Confirm step", "confirm", (ref,), style="primary"))
        buttons.append(Button("Cancel", "cancel", (ref,), style="danger"))
    elif run.status == "succeeded" and run.incident_id and not run.dry_run:
        buttons.append(
            Button(
                "This fixed it",
                "feedback",
                ("fixed", f"runbook:{run.runbook}", "--incident", display_id(run.incident_id)),
                style="primary",
            )
        )
    if buttons:
        blocks.append(Actions(tuple(buttons)))
    color = {"succeeded": "resolved", "failed": "critical", "rolled_back": "error"}.get(run.status)
    return Reply(blocks=blocks, visibility="thread", incident_id=run.incident_id, color=color)
