"""The `key=value` words of `run`: each parameter once, by a name the runbook declares, and
each value as its author meant it — a look-alike dash, space or fullwidth character from
copy-paste is folded (`skills.grammar.normalise_word`) when only the folded value is valid."""

from __future__ import annotations

import difflib
from collections.abc import Collection

from runbooks.schema import Runbook
from skills.errors import UsageError
from skills.grammar import normalise_word


def parse_arguments(words: list[str]) -> dict[str, str]:
    """`key=value` words as a mapping; UsageError for a word that is not one, or a parameter
    given twice (which value was meant cannot be told)."""
    arguments: dict[str, str] = {}
    for word in words:
        key, equals, value = word.partition("=")
        if not equals or not key:
            raise UsageError(f"`{word}` is not a parameter; write them as key=value.")
        if key in arguments:
            raise UsageError(
                f"`{key}` is given twice (`{arguments[key]}` and `{value}`); give each "
                "parameter once."
            )
        arguments[key] = value
    return arguments


def refuse_unknown(runbook: Runbook, arguments: Collection[str]) -> None:
    """UsageError naming every argument the runbook does not declare, each with the closest
    declared name (any case) when there is one."""
    unknown = [name for name in arguments if runbook.parameter(name) is None]
    if not unknown:
        return
    names = [p.name for p in runbook.parameters if not p.secret]
    hints = []
    for name in unknown:
        close = [n for n in names if n.lower() == name.lower()] or difflib.get_close_matches(
            name.lower(), names, n=1, cutoff=0.6
        )
        hints.append(f" (did you mean `{close[0]}`?)" if close else "")
    listed = ", ".join(names) if names else "none"
    if len(unknown) == 1:
        name, hint = unknown[0], hints[0]
        raise UsageError(
            f"`{name}` is not a parameter of {runbook.name}{hint}; its parameters: {listed}."
        )
    subject = ", ".join(f"`{n}`{h}" for n, h in zip(unknown[:-1], hints, strict=False))
    last = f"`{unknown[-1]}`{hints[-1]}"
    raise UsageError(
        f"{subject} and {last} are not parameters of {runbook.name}; its parameters: {listed}."
    )


def fold_look_alikes(
    runbook: Runbook, arguments: dict[str, str], *, services: Collection[str] | None
) -> dict[str, str]:
    """`arguments` with each value its parameter refuses, but accepts once look-alike
    characters are folded, replaced by the folded value; every other value as typed."""
    folded = dict(arguments)
    for name, value in arguments.items():
        parameter = runbook.parameter(name)
        if parameter is None or parameter.problem(value, services=services) is None:
            continue
        plain = normalise_word(value)
        if plain != value and plain and parameter.problem(plain, services=services) is None:
            folded[name] = plain
    return folded
