"""A runbook run as one message: plan, approvals, then live progress — edited in place.

Everything a person needs at a glance: which parameters and where each came from, who asked
and who approved, each step with its duration and the first (or, when it failed, the last)
lines of its output and how many more there are, who confirmed a manual step and what they
said, why it was rejected or cancelled. Parameter values, output and reasons are data
(`skills.markup.literal`).
"""

from __future__ import annotations

from typing import Any

from core.incidents import display_id
from skills.contract import Actions, Block, Button, Context, Fields, Reply, Text
from skills.formatting import clock_time
from skills.markup import literal
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
    "interrupted": "⚠️ interrupted",
    "planned": "📝 dry run: nothing was executed",
}
WAITING_WORDS = {
    "one": "⏳ waiting for a responder to approve",
    "two": "⏳ waiting for a second person to approve",
}
APPROVAL_WORDS = {
    "none": "no approval",
    "one": "a responder approves",
    "two": "a second person approves",
}
STEP_MARKS = {"ok": "✓", "failed": "✗", "timed_out": "✗", "cancelled": "⏹", "skipped": "–"}
FINISHED = ("succeeded", "failed", "rolled_back", "cancelled", "interrupted", "expired")


def run_ref(run_id: int) -> str:
    return f"R-{run_id}"


def step_word(phase: str, number: int) -> str:
    """How `run show` names a step: `2`, or `rollback-1`."""
    return f"rollback-{number}" if phase == "rollback" else str(number)


def _status(run: RunbookRunRow) -> str:
    if run.status == "pending_approval":
        return WAITING_WORDS.get(str(run.plan.get("approval")), STATUS_WORDS[run.status])
    return STATUS_WORDS.get(run.status, run.status)


def _confirmation(run: RunbookRunRow, phase: str, number: int) -> str:
    for entry in reversed(run.steps.get("confirmations", [])):
        if int(entry.get("number", 0)) == number and entry.get("phase", "steps") == phase:
            said = f": “{literal(str(entry['comment']))}”" if entry.get("comment") else ""
            return f" · confirmed by {literal(str(entry.get('by', '?')))}{said}"
    return ""


def _done_lines(run: RunbookRunRow, step: dict[str, Any]) -> list[str]:
    ref = run_ref(run.id)
    mark = STEP_MARKS.get(step["status"], "?")
    rollback = step["phase"] == "rollback"
    where = "rollback " if rollback else ""
    line = f"{mark} {where}{step['number']}. {literal(step['name'])} — {step['seconds']:.1f} s"
    if step.get("error"):
        line += f": {literal(step['error'])}"
    if step.get("manual"):
        line += _confirmation(run, str(step["phase"]), int(step["number"]))
    lines = [line]
    excerpt = step.get("excerpt") or []
    if isinstance(excerpt, str):  # runs recorded before excerpts kept their lines
        excerpt = excerpt.splitlines()
    hidden = int(step.get("hidden", 0))
    shown = [f"    `{literal(text)}`" for text in excerpt]
    if hidden:
        command = f"run show {ref} {step_word(step['phase'], int(step['number']))}"
        plural = "s" * (hidden != 1)
        if step.get("from_end"):
            shown.insert(0, f"    … {hidden} earlier line{plural} · `{command}`")
        else:
            shown.append(f"    … {hidden} more line{plural} · `{command}`")
    lines.extend(shown)
    return lines


def _step_lines(run: RunbookRunRow) -> list[str]:
    done: list[dict[str, Any]] = run.steps.get("steps", [])
    current: dict[str, Any] | None = run.steps.get("current")
    planned: list[str] = run.plan.get("steps", [])
    lines: list[str] = []
    finished = {(s["phase"], s["number"]) for s in done}
    for step in done:
        lines.extend(_done_lines(run, step))
    if current and (current["phase"], current["number"]) not in finished:
        name = literal(str(current["name"]))
        where = "rollback " if current["phase"] == "rollback" else ""
        position = f"{where}{current['number']}/{current['total']}. {name}"
        if run.status == "running":
            waiting = run.steps.get("waiting")
            if waiting:
                doing = f"waiting for confirmation: {literal(str(waiting['prompt']))}"
            else:
                doing = "running…"
            lines.append(f"▶ {position} — {doing}")
        elif run.status == "interrupted":
            lines.append(f"⚠ {position} — interrupted: it may or may not have finished")
        else:
            lines.append(f"⏹ {position} — stopped")
    if run.status in ("pending_approval", "approved", "planned"):
        lines.extend(f"○ {literal(line)}" for line in planned)
    return lines


def _parameters(run: RunbookRunRow) -> str:
    sources: dict[str, str] = run.plan.get("sources", {})
    lines = []
    for name, value in sorted(run.arguments.items()):
        source = sources.get(name)
        origin = f" — {literal(source)}" if source else ""
        lines.append(f"• {name} = `{literal(str(value))}`{origin}")
    return "**Parameters**\n" + "\n".join(lines)


def run_message(run: RunbookRunRow) -> Reply:
    ref = run_ref(run.id)
    blocks: list[Block] = [Text(f"**{ref} · {run.title}** (`{run.runbook}`) — {_status(run)}")]
    approvers = [literal(str(entry["name"])) for entry in run.approvals.get("by", [])]
    approval = str(run.plan.get("approval", ""))
    risk = run.risk + (f" — {APPROVAL_WORDS[approval]}" if approval in APPROVAL_WORDS else "")
    requested = clock_time(run.requested_at, run.requested_at)
    fields = [
        ("Requested by", f"{literal(run.requested_by_name)} at {requested}"),
        ("Risk", risk),
    ]
    if run.incident_id:
        fields.append(("Incident", display_id(run.incident_id)))
    if (run.approvals_needed or approvers) and run.status != "planned":
        fields.append(("Approved by", ", ".join(approvers) or "nobody yet"))
    if run.plan.get("from_plan"):
        fields.append(("Plan", f"as shown by dry run {run.plan['from_plan']}"))
    blocks.append(Fields(tuple(fields)))
    if run.arguments:
        blocks.append(Text(_parameters(run)))
    lines = _step_lines(run)
    if lines:
        blocks.append(Text("\n".join(lines)))
    if run.detail:
        blocks.append(Context(literal(run.detail)))
    for note in run.plan.get("notes", []):
        blocks.append(Context(f"Not used: {literal(str(note))}"))
    blocked: list[str] = run.plan.get("blocked", [])
    if blocked:
        reasons = literal("; ".join(blocked))
        blocks.append(Context(f"⚠ This plan cannot run on this Lookout: {reasons}."))
    buttons: list[Button] = []
    if run.status == "planned" and not blocked:
        buttons.append(Button("Run this", "run", ("--plan", ref), style="primary"))
    elif run.status == "pending_approval":
        buttons += [
            Button("Approve", "approve", (ref,), style="primary"),
            Button("Reject", "reject", (ref,), style="danger"),
        ]
    elif run.status == "running":
        if run.steps.get("waiting"):
            buttons.append(Button("Confirm step", "confirm", (ref,), style="primary"))
        buttons.append(Button("Cancel", "cancel", (ref,), style="danger"))
    elif run.status in FINISHED and run.steps.get("steps"):
        buttons.append(Button("Output", "run", ("show", ref)))
    if run.status == "succeeded" and run.incident_id and not run.dry_run:
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
    if run.status == "running" and run.steps.get("waiting"):
        blocks.append(Context(f"To add a comment: `confirm {ref} <what you checked>`."))
    color = {"succeeded": "resolved", "failed": "critical", "rolled_back": "error"}.get(run.status)
    return Reply(
        blocks=blocks,
        visibility="thread",
        incident_id=run.incident_id,
        color=color,
        more=f"`run show {ref}` for everything",
    )
