"""`run show R-12 [step]`: a run as its card shows it plus the outputs kept, or one step's
whole output (redacted) — in the message when short, attached as a file when long."""

from __future__ import annotations

import re

from core.wording import plural
from runbooks.results import NOTHING_TO_ROLL_BACK
from skills.commands.run_control import load_run
from skills.context import SkillContext
from skills.contract import Actions, Block, Button, Context, File, Reply, Text
from skills.errors import NotFoundError, UsageError
from skills.markup import literal
from skills.views.run_card import STEP_MARKS, run_message, run_ref, step_word
from storage.models import RunbookRunRow, RunStepOutputRow

SHOWN_LINES = 30
SHOWN_CHARS = 3000
MAX_BUTTONS = 5
_STEP = re.compile(r"^(?:(r|rb|rollback)[-:]?)?(\d{1,3})$", re.IGNORECASE)
USAGE = "Usage: `run show R-12 [step]`, e.g. `run show R-12 2` or `run show R-12 rollback-1`."


def parse_step(word: str) -> tuple[str, int]:
    """`2` → ("steps", 2); `r1`, `rollback-1` → ("rollback", 1); UsageError otherwise."""
    match = _STEP.match(word.strip())
    if match is None:
        raise UsageError(f"`{word}` is not a step. {USAGE}")
    return ("rollback" if match.group(1) else "steps"), int(match.group(2))


async def show_run(ctx: SkillContext, words: list[str]) -> Reply:
    """`words` after `run show`: a run id, and optionally a step (`2`, `rollback-1`).
    Raises UsageError on anything else, NotFoundError for a run or output that is not there."""
    if not words or len(words) > 2:
        raise UsageError(f"Which run? {USAGE}")
    run = await load_run(ctx, words[0])
    ref = run_ref(run.id)
    if len(words) == 1:
        card = run_message(run)
        outputs = await ctx.runs.outputs(run_id=run.id)
        blocks: list[Block] = list(card.blocks)
        if outputs:
            lines = ["**Output kept**"]
            for row in outputs:
                where = "rollback " if row.phase == "rollback" else ""
                mark = STEP_MARKS.get(row.status, "?")
                command = f"run show {ref} {step_word(row.phase, row.number)}"
                count = f"{row.lines} line{'s' * (row.lines != 1)}: `{command}`"
                if not row.lines:
                    count = "no output"
                lines.append(f"{mark} {where}{row.number}. {literal(row.name)} — {count}")
            blocks.append(Text("\n".join(lines)))
            buttons = tuple(
                Button(
                    f"Output of {'rollback ' if row.phase == 'rollback' else ''}step {row.number}",
                    "run",
                    ("show", ref, step_word(row.phase, row.number)),
                )
                for row in outputs
                if row.lines
            )[:MAX_BUTTONS]
            if buttons:
                blocks.append(Actions(buttons))
        return Reply(blocks=blocks, incident_id=run.incident_id, more=f"`run show {ref}`")
    phase, number = parse_step(words[1])
    kept = await ctx.runs.output(run_id=run.id, phase=phase, number=number)
    label = f"{'rollback ' if phase == 'rollback' else ''}step {number}"
    if kept is None:
        raise NotFoundError(_no_output(run, phase, number))
    return _output(ref, label, kept, run.incident_id)


def _no_output(run: RunbookRunRow, phase: str, number: int) -> str:
    """Why a step has no output kept: the run has no such step, or it did not run (yet)."""
    ref = run_ref(run.id)
    planned = [str(line) for line in run.plan.get("steps", [])]
    rollback = sum(line.startswith("rollback ") for line in planned)
    steps = len(planned) - rollback
    count = rollback if phase == "rollback" else steps
    if not 1 <= number <= count:
        has = plural(steps, "step")
        if rollback or phase == "rollback":
            has += f" and {plural(rollback, 'rollback step')}"
        which = "it" if count == 1 else "the last"
        last = f"; `run show {ref} {step_word(phase, count)}` shows {which}" if count else ""
        return f"{ref} has {has}{last}."
    label = f"{'Rollback step' if phase == 'rollback' else 'Step'} {number} of {ref}"
    if run.status == "planned":
        return f"{ref} is a dry run (a plan): none of its steps ran."
    if run.status in ("pending_approval", "approved"):
        return f"{ref} has not started yet."
    if run.status == "running":
        return f"{label} has not run yet."
    if phase == "rollback":
        if run.status == "succeeded":
            why = "no step failed"
        elif NOTHING_TO_ROLL_BACK in (run.detail or "").lower():
            why = "no step that changes anything ran, so there was nothing to roll back"
        else:
            why = "the run did not get to it"
        return f"{label} did not run: {why}."
    return f"{label} did not run: the run stopped before it ({run.status.replace('_', ' ')})."


def _output(ref: str, label: str, row: RunStepOutputRow, incident_id: int | None) -> Reply:
    lines = row.output.splitlines()
    mark = STEP_MARKS.get(row.status, "?")
    count = f"{len(lines)} line{'s' * (len(lines) != 1)}"
    blocks: list[Block] = [
        Text(f"**{ref} · {label} · {literal(row.name)}** — {mark} {row.status}, {count}")
    ]
    if not row.output.strip():
        blocks.append(Context("It printed nothing."))
        return Reply(blocks=blocks, incident_id=incident_id)
    shown: list[str] = []
    used = 0
    for line in lines[:SHOWN_LINES]:
        if used + len(line) > SHOWN_CHARS:
            break
        shown.append(f"`{literal(line)}`" if line.strip() else "")
        used += len(line)
    blocks.append(Text("\n".join(shown)))
    hidden = len(lines) - len(shown)
    if hidden:
        name = f"{ref}-{step_word(row.phase, row.number)}.txt"
        blocks.append(
            Context(f"… {hidden} more line{'s' * (hidden != 1)}: the whole output is {name}")
        )
        blocks.append(File(name=name, content=row.output.encode("utf-8")))
    return Reply(blocks=blocks, incident_id=incident_id)
