"""Policies: rules a project writes in its config, evaluated on its incidents.

A rule names a condition over an incident's facts (`when`) and one action from a safe list
(`then`); each rule fires at most once per incident episode. The condition language is a
small, safe subset of Python expressions, parsed with `ast` and evaluated here — nothing is
ever passed to `eval`, no attribute, call, subscript (but `labels["…"]`), arithmetic or
comprehension is accepted:

* `and`, `or`, `not`, parentheses;
* comparisons `==`, `!=`, `<`, `<=`, `>`, `>=`, `in`, `not in` (chains like `1 < alerts < 5`);
* strings, numbers, `true`/`false` (or `True`/`False`), tuples or lists of those for `in`;
* durations `30s`, `30m`, `2h`, `1d` (seconds: `30m` is 1800);
* the facts below, and `labels["team"]` for one label of the incident's alerts.

Facts (`VOCABULARY`): `severity` (critical, warning, info), `status` (triggered,
acknowledged, investigating, mitigated, resolved), `acknowledged` (boolean), `resolved`
(the incident is resolved, or none of its alerts fires any more: what an incident of a
project with `resolve_with_alerts: false` is when its alerts end),
`alerts` (alerts of the current episode, firing or resolved), `firing` (of those, firing),
`service`, `project`, `age` (seconds since the episode opened), `idle` (seconds since the
last alert), `confidence` (0…1: the root cause's confidence, else the best precedent's
similarity, else 0), `precedent` (a resolved incident like this one was found: the stored
"Seen before?" check), `flapping` (the incident opened more than once), `episodes`,
`labels` (the labels every alert of the incident shares).

Actions (`ACTIONS`): `auto_close` (resolve the incident, only while none of its alerts
fires), `post_suggestion` (post the precedent found in its thread), `notify` (post the
rule's message in its thread), `set_severity:<level>`. Running a runbook is not an action:
a runbook runs only through its own approval.
"""

from __future__ import annotations

import ast
import itertools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from core.severity import severity_from_name

Value = str | int | float | bool
Facts = Mapping[str, Value | Mapping[str, str]]
Kind = Literal["str", "number", "bool", "labels"]

# Every fact a condition may name, and what it is.
VOCABULARY: dict[str, Kind] = {
    "severity": "str",
    "status": "str",
    "acknowledged": "bool",
    "resolved": "bool",
    "alerts": "number",
    "firing": "number",
    "service": "str",
    "project": "str",
    "age": "number",
    "idle": "number",
    "confidence": "number",
    "precedent": "bool",
    "flapping": "bool",
    "episodes": "number",
    "labels": "labels",
}
ACTIONS = ("auto_close", "post_suggestion", "notify", "set_severity")
LITERALS = {"true": True, "false": False, "True": True, "False": False}
MAX_LENGTH = 500
MAX_NODES = 200
DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
# A quoted string (left alone) or a duration literal outside one.
_TOKENS = re.compile(
    r"(\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*')|(?<![\w.])(\d+(?:\.\d+)?)([smhd])(?![\w.])"
)
_COMPARE = {
    ast.Eq: "==",
    ast.NotEq: "!=",
    ast.Lt: "<",
    ast.LtE: "<=",
    ast.Gt: ">",
    ast.GtE: ">=",
    ast.In: "in",
    ast.NotIn: "not in",
}


class PolicyError(ValueError):
    """A rule that cannot be used; the message says why in one sentence."""


def _durations(text: str) -> str:
    """`age > 30m` → `age > 1800`; strings are left as they are."""

    def replace(match: re.Match[str]) -> str:
        if match.group(1) is not None:
            return match.group(1)
        seconds = float(match.group(2)) * DURATION_UNITS[match.group(3)]
        return str(int(seconds)) if seconds.is_integer() else str(seconds)

    return _TOKENS.sub(replace, text)


@dataclass(frozen=True)
class Check:
    """One comparison of a condition and how it came out: `text` as written (durations in
    seconds), `shown` the facts it read with their values."""

    text: str
    passed: bool
    shown: tuple[tuple[str, str], ...] = ()

    def line(self) -> str:
        facts = ", ".join(f"{name} is {value}" for name, value in self.shown)
        return f"{'✓' if self.passed else '✗'} `{self.text}`" + (f" ({facts})" if facts else "")


@dataclass(frozen=True)
class Verdict:
    """Whether a condition holds for some facts, and every comparison it made (all of them,
    not only those needed to decide, so that a person sees why)."""

    holds: bool
    checks: tuple[Check, ...] = ()


class Condition:
    """A parsed `when`. Raises PolicyError from the constructor for anything outside the
    language or naming a fact not in `VOCABULARY`."""

    def __init__(self, text: str) -> None:
        if not isinstance(text, str) or not text.strip():
            raise PolicyError("the condition is empty")
        if len(text) > MAX_LENGTH:
            raise PolicyError(f"the condition is longer than {MAX_LENGTH} characters")
        self.text = text.strip()
        try:
            tree = ast.parse(_durations(self.text).strip(), mode="eval")
        except (SyntaxError, ValueError, RecursionError, MemoryError, OverflowError) as error:
            reason = getattr(error, "msg", None) or "it is not an expression"
            raise PolicyError(f"cannot read the condition: {reason}") from None
        if sum(1 for _ in ast.walk(tree)) > MAX_NODES:
            raise PolicyError(f"the condition has more than {MAX_NODES} parts")
        self._tree = tree.body
        kind = _check(self._tree)
        if kind != "bool":
            raise PolicyError("the condition must be true or false (a comparison, not a value)")

    def __repr__(self) -> str:
        return f"Condition({self.text!r})"

    @property
    def names(self) -> frozenset[str]:
        """The facts the condition reads."""
        return frozenset(
            node.id
            for node in ast.walk(self._tree)
            if isinstance(node, ast.Name) and node.id in VOCABULARY
        )

    def evaluate(self, facts: Facts) -> Verdict:
        """Whether the condition holds for `facts` (a fact missing counts as not holding)."""
        checks: list[Check] = []
        holds = _truth(self._tree, facts, checks)
        return Verdict(holds, tuple(checks))


def _kind_of(node: ast.expr) -> Kind | Literal["sequence"]:
    """The kind of an operand; raises PolicyError for anything not allowed there."""
    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool):
            return "bool"
        if isinstance(node.value, str):
            return "str"
        if isinstance(node.value, int | float):
            return "number"
        raise PolicyError(f"`{ast.unparse(node)}` is not a string, number or true/false")
    if isinstance(node, ast.Name):
        if node.id in LITERALS:
            return "bool"
        if node.id not in VOCABULARY:
            known = ", ".join(VOCABULARY)
            raise PolicyError(f"unknown name `{node.id}` (known: {known})")
        return VOCABULARY[node.id]
    if isinstance(node, ast.Subscript):
        if not (isinstance(node.value, ast.Name) and node.value.id == "labels"):
            raise PolicyError('only `labels["name"]` may be indexed')
        if not (isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, str)):
            raise PolicyError('a label is named by a string: `labels["team"]`')
        return "str"
    if isinstance(node, ast.Tuple | ast.List):
        for item in node.elts:
            if not isinstance(item, ast.Constant) or _kind_of(item) not in ("str", "number"):
                raise PolicyError("a list holds strings or numbers only")
        return "sequence"
    if (
        isinstance(node, ast.UnaryOp)
        and isinstance(node.op, ast.USub)
        and isinstance(node.operand, ast.Constant)
        and _kind_of(node.operand) == "number"
    ):
        return "number"
    raise PolicyError(f"`{_shown(node)}` is not allowed in a condition")


def _shown(node: ast.AST) -> str:
    try:
        return ast.unparse(node)[:60]
    except (ValueError, RecursionError):  # pragma: no cover - unparse of a parsed tree
        return type(node).__name__


def _check(node: ast.expr) -> str:
    """The kind `node` evaluates to, checking every part; raises PolicyError."""
    if isinstance(node, ast.BoolOp):
        for value in node.values:
            if _check(value) != "bool":
                raise PolicyError(f"`{_shown(value)}` is not true or false")
        return "bool"
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        if _check(node.operand) != "bool":
            raise PolicyError(f"`{_shown(node.operand)}` is not true or false")
        return "bool"
    if isinstance(node, ast.Compare):
        kinds = [_kind_of(node.left), *(_kind_of(item) for item in node.comparators)]
        for op, (left, right) in zip(node.ops, itertools.pairwise(kinds), strict=True):
            symbol = _COMPARE.get(type(op))
            if symbol is None:
                raise PolicyError(f"`{_shown(node)}`: only ==, !=, <, <=, >, >=, in, not in")
            _compatible(symbol, left, right, node)
        return "bool"
    return _kind_of(node)


def _compatible(symbol: str, left: str, right: str, node: ast.expr) -> None:
    if symbol in ("in", "not in"):
        if right == "labels" and left == "str":
            return
        if right == "sequence" and left in ("str", "number"):
            return
        if right == "str" and left == "str":
            return
        raise PolicyError(f"`{_shown(node)}`: `in` needs a list, a string or labels on its right")
    if "labels" in (left, right) or "sequence" in (left, right):
        raise PolicyError(f"`{_shown(node)}` compares a whole list; compare one value")
    if left != right:
        raise PolicyError(f"`{_shown(node)}` compares a {left} with a {right}")
    if symbol not in ("==", "!=") and left == "bool":
        raise PolicyError(f"`{_shown(node)}`: true/false can only be compared with == or !=")


_MISSING = object()


def _value(node: ast.expr, facts: Facts, read: dict[str, str]) -> object:
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.UnaryOp):  # a negative number (checked at parse)
        operand = node.operand
        assert isinstance(operand, ast.Constant) and isinstance(operand.value, int | float)
        return -operand.value
    if isinstance(node, ast.Name):
        if node.id in LITERALS:
            return LITERALS[node.id]
        found = facts.get(node.id, _MISSING)
        if node.id != "labels":
            read[node.id] = _display(found)
        return found
    if isinstance(node, ast.Subscript):
        assert isinstance(node.slice, ast.Constant)
        name = str(node.slice.value)
        labels = facts.get("labels")
        value = labels.get(name, _MISSING) if isinstance(labels, Mapping) else None
        key = f'labels["{name}"]'
        read[key] = _display(value)
        return value
    if isinstance(node, ast.Tuple | ast.List):
        return tuple(_value(item, facts, read) for item in node.elts)
    raise PolicyError(f"`{_shown(node)}` is not allowed in a condition")  # pragma: no cover


def _display(value: object) -> str:
    if value is _MISSING or value is None:
        return "unknown"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.2f}"
    if isinstance(value, str):
        return f'"{value}"'
    return str(value)


def _compare(symbol: str, left: object, right: object) -> bool:
    if left is _MISSING or right is _MISSING or left is None or right is None:
        return False
    try:
        if symbol == "==":
            return bool(left == right)
        if symbol == "!=":
            return bool(left != right)
        if symbol == "in":
            return bool(left in right)  # type: ignore[operator]
        if symbol == "not in":
            return bool(left not in right)  # type: ignore[operator]
        if isinstance(left, bool) or isinstance(right, bool):
            return False
        if not (isinstance(left, int | float) and isinstance(right, int | float)) and not (
            isinstance(left, str) and isinstance(right, str)
        ):
            return False
        if symbol == "<":
            return bool(left < right)  # type: ignore[operator]
        if symbol == "<=":
            return bool(left <= right)  # type: ignore[operator]
        if symbol == ">":
            return bool(left > right)  # type: ignore[operator]
        return bool(left >= right)  # type: ignore[operator]
    except TypeError:
        return False


def _truth(node: ast.expr, facts: Facts, checks: list[Check]) -> bool:
    if isinstance(node, ast.BoolOp):
        results = [_truth(value, facts, checks) for value in node.values]
        return all(results) if isinstance(node.op, ast.And) else any(results)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        if isinstance(node.operand, ast.BoolOp | ast.UnaryOp):
            return not _truth(node.operand, facts, checks)
        # One comparison negated is one check, shown as written: `✓ not acknowledged`.
        inner: list[Check] = []
        passed = not _truth(node.operand, facts, inner)
        checks.append(Check(_shown(node), passed, inner[0].shown))
        return passed
    read: dict[str, str] = {}
    if isinstance(node, ast.Compare):
        values = [_value(node.left, facts, read)]
        values.extend(_value(item, facts, read) for item in node.comparators)
        passed = all(
            _compare(_COMPARE[type(op)], values[index], values[index + 1])
            for index, op in enumerate(node.ops)
        )
    else:
        passed = _value(node, facts, read) is True
    shown = tuple(read.items()) if not isinstance(node, ast.Constant) else ()
    checks.append(Check(_shown(node), passed, shown))
    return passed


@dataclass(frozen=True)
class Action:
    """What a rule does: `kind` from `ACTIONS`, `argument` (the level of `set_severity`)."""

    kind: str
    argument: str | None = None

    @classmethod
    def parse(cls, text: str) -> Action:
        """`auto_close`, `notify`, `post_suggestion`, `set_severity:critical`. Raises
        PolicyError for anything else."""
        if not isinstance(text, str):
            raise PolicyError("the action must be a word such as auto_close")
        kind, _, argument = text.strip().partition(":")
        kind, argument = kind.strip(), argument.strip()
        if kind in ("run_runbook", "run"):
            raise PolicyError(
                "running a runbook is not a policy action: runbooks run only with their own "
                "approval"
            )
        if kind not in ACTIONS:
            raise PolicyError(f"unknown action `{text[:40]}` (use {', '.join(ACTIONS)})")
        if kind == "set_severity":
            try:
                level = severity_from_name(argument)
            except ValueError:
                raise PolicyError("set_severity needs a level: set_severity:critical") from None
            return cls(kind, level.label)
        if argument:
            raise PolicyError(f"{kind} takes no argument")
        return cls(kind)

    def __str__(self) -> str:
        return f"{self.kind}:{self.argument}" if self.argument else self.kind


@dataclass(frozen=True)
class Rule:
    """One policy: `name` (unique in its project), `condition`, `action`, `message` (what
    `notify` posts; other actions post their own line)."""

    name: str
    condition: Condition
    action: Action
    message: str | None = None

    @classmethod
    def parse(cls, *, name: str, when: str, then: str, message: str | None = None) -> Rule:
        """Raises PolicyError naming the rule when `when` or `then` is not usable."""
        try:
            return cls(name, Condition(when), Action.parse(then), message)
        except PolicyError as error:
            raise PolicyError(f"policy {name}: {error}") from None


@dataclass(frozen=True)
class Outcome:
    """What evaluating a rule for an incident says: whether it fires now; `blocked` says
    why an action that matched cannot act (e.g. auto_close while an alert fires)."""

    rule: Rule
    verdict: Verdict
    blocked: str | None = None
    fired_before: bool = False

    @property
    def fires(self) -> bool:
        return self.verdict.holds and self.blocked is None and not self.fired_before


def blocked(action: Action, facts: Facts) -> str | None:
    """Why `action` cannot act on an incident with `facts` although its rule matched."""
    if action.kind == "auto_close":
        if facts.get("status") == "resolved":
            return "the incident is resolved already"
        firing = facts.get("firing")
        if isinstance(firing, int) and firing > 0:
            return f"auto_close waits until no alert fires ({firing} firing)"
    if action.kind == "set_severity" and facts.get("severity") == action.argument:
        return f"the severity is {action.argument} already"
    if action.kind == "post_suggestion" and facts.get("precedent") is not True:
        return "no precedent was found to post"
    return None


def evaluate(
    rules: Sequence[Rule], facts: Facts, *, fired: frozenset[str] = frozenset()
) -> list[Outcome]:
    """Each rule's outcome for one incident; `fired`: the rules that fired in its current
    episode already (they never fire twice)."""
    return [
        Outcome(
            rule=rule,
            verdict=(verdict := rule.condition.evaluate(facts)),
            blocked=blocked(rule.action, facts) if verdict.holds else None,
            fired_before=rule.name in fired,
        )
        for rule in rules
    ]
