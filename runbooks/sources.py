"""Where each parameter of a run comes from: typed by a person, read from the incident's
alerts, or the runbook's default — and which are still missing.

A parameter declares the labels it comes from (`label:`, with an optional `label_pattern`);
a label named like the parameter is tried last. Alerts are read in order: the one the runbook
fits best, then the firing ones, then the rest. A label value is taken only if the parameter
accepts it, so a bad label can never make a plan fail that a person could have fixed by typing
the value: it is skipped and reported in `notes`.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field

from runbooks.fit import AlertFacts
from runbooks.schema import Runbook

GIVEN = "given"
DEFAULT = "default"


@dataclass(frozen=True)
class Filled:
    """`arguments`: what was given plus what the alerts answered (defaults are the planner's);
    `sources`: parameter → where its value came from; `missing`: required parameters nobody
    answered, in the runbook's order; `notes`: label values that were found but refused."""

    arguments: dict[str, str]
    sources: dict[str, str]
    missing: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def fill_parameters(
    runbook: Runbook,
    given: Mapping[str, str],
    alerts: Sequence[AlertFacts] = (),
    *,
    first: AlertFacts | None = None,
    services: Collection[str] | None = None,
) -> Filled:
    """Given values win; the others are read from `alerts` (see the module docstring)."""
    arguments = dict(given)
    sources = {name: GIVEN for name in given}
    ordered = _in_order(alerts, first)
    notes: list[str] = []
    for parameter in runbook.parameters:
        if parameter.name in arguments or parameter.secret:
            continue
        refused: str | None = None
        for label in parameter.labels_to_try():
            for alert in ordered:
                raw = alert.labels.get(label)
                if not raw:
                    continue
                value = parameter.from_label(raw)
                problem = (
                    "does not contain it"
                    if value is None
                    else parameter.problem(value, services=services)
                )
                if problem is None and value is not None:
                    arguments[parameter.name] = value
                    sources[parameter.name] = f"label {label} of {alert.name}"
                    break
                refused = refused or (
                    f"{parameter.name}: label {label} of {alert.name} is {_short(raw)!r}, "
                    f"which {problem}"
                )
            if parameter.name in arguments:
                break
        if parameter.name not in arguments:
            if refused is not None:
                notes.append(refused)
            if parameter.default is not None:
                sources[parameter.name] = DEFAULT
    missing = [
        p.name
        for p in runbook.parameters
        if p.name not in arguments and p.default is None and not p.secret
    ]
    return Filled(arguments, sources, missing, notes)


def _in_order(alerts: Sequence[AlertFacts], first: AlertFacts | None) -> list[AlertFacts]:
    rest = [alert for alert in alerts if alert is not first]
    ordered = [first] if first is not None else []
    return ordered + [a for a in rest if a.firing] + [a for a in rest if not a.firing]


def _short(value: str) -> str:
    return value if len(value) <= 60 else value[:57] + "…"
