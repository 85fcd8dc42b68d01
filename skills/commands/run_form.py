"""The answer to a run that lacks parameters: every missing or refused one named at once, what
the incident already answered (and from where), and a form to fill in the rest."""

from __future__ import annotations

from core.incidents import display_id
from runbooks.plan import PlanError
from runbooks.schema import Runbook
from runbooks.sources import Filled
from skills.contract import Block, Context, Fields, Form, Input, Reply, Text
from skills.markup import literal
from storage.models import IncidentRow


def missing_parameters(
    runbook: Runbook,
    filled: Filled,
    error: PlanError,
    *,
    incident: IncidentRow | None,
    dry_run: bool,
    given: list[str],
) -> Reply:
    """Shown to the asker only; submitting the form runs the same command with the values."""
    wanted = [*error.missing, *error.invalid]
    what = "plan" if dry_run else "run"
    needs = []
    if error.missing:
        count = len(error.missing)
        needs.append(f"{count} more parameter{'s' * (count != 1)}")
    if error.invalid:
        count = len(error.invalid)
        needs.append(f"a valid value for {count} parameter{'s' * (count != 1)}")
    lines = [f"**{runbook.title}** (`{runbook.name}`) needs {' and '.join(needs)} to {what}:"]
    for name in wanted:
        parameter = runbook.parameter(name)
        if parameter is None:
            continue
        about = "; ".join(part for part in (parameter.description, parameter.value_hint()) if part)
        problem = next((p for p in error.problems if p.startswith(f"{name}: ")), None)
        shown = f"• **{name}**" + (f" — {about}" if about else "")
        if problem is not None:
            shown += f" ({literal(problem.removeprefix(f'{name}: '))})"
        lines.append(shown)
    blocks: list[Block] = [Text("\n".join(lines))]
    answered = [
        (name, f"{literal(value)} ({literal(filled.sources.get(name, 'given'))})")
        for name, value in filled.arguments.items()
        if name not in wanted and runbook.parameter(name) is not None
    ]
    if answered:
        blocks.append(Fields(tuple(answered)))
    for note in filled.notes:
        blocks.append(Context(f"Not used: {literal(note)}"))
    unknown = [p for p in error.problems if p.startswith("unknown parameter")]
    if unknown:
        blocks.append(Context(literal("; ".join(unknown))))
    keep = [word for word in given if word.partition("=")[0] not in wanted]
    args: list[str] = [runbook.name, *keep]
    if incident is not None:
        args += ["--incident", display_id(incident.id)]
    if dry_run:
        args.append("--dry-run")
    inputs = []
    for name in wanted:
        parameter = runbook.parameter(name)
        if parameter is None:
            continue
        inputs.append(
            Input(
                name=name,
                label=name,
                hint=parameter.description or parameter.value_hint(),
                choices=parameter.choices,
            )
        )
    form = Form(
        title=f"Parameters for {runbook.name}",
        skill="run",
        args=tuple(args),
        inputs=tuple(inputs),
        submit="Plan" if dry_run else "Run",
    )
    blocks.append(form)
    example = " ".join(f"{name}=…" for name in wanted)
    blocks.append(Context(f"Or type `{literal(form.command)} {example}`"))
    return Reply(
        blocks=blocks,
        visibility="ephemeral",
        incident_id=incident.id if incident else None,
    )
