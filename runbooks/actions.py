"""What a planned step will do, fully rendered: the executor's input, shown before approval."""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

SHOWN_BODY_CHARS = 600


@dataclass(frozen=True)
class ExecAction:
    argv: tuple[str, ...]
    env: Mapping[str, str]
    timeout: float


@dataclass(frozen=True)
class HttpAction:
    method: str
    url: str
    headers: Mapping[str, str]
    json_body: Any
    expect_status: tuple[int, ...]
    retries: int
    retry_delay: float
    timeout: float


@dataclass(frozen=True)
class PromqlAction:
    query: str
    below: float | None
    above: float | None
    empty: bool
    poll_seconds: float
    timeout: float


@dataclass(frozen=True)
class WaitAction:
    seconds: float


@dataclass(frozen=True)
class ManualAction:
    prompt: str
    timeout: float


Action = ExecAction | HttpAction | PromqlAction | WaitAction | ManualAction


@dataclass(frozen=True)
class PlannedStep:
    number: int  # 1-based within its phase, as people count
    name: str
    continue_on_fail: bool
    action: Action
    # Changes nothing (`read_only`, or a promql or wait step): no rollback is owed for it.
    read_only: bool = False

    def describe(self, redact: Callable[[str], str]) -> str:
        action = self.action
        if isinstance(action, ExecAction):
            return redact(shlex.join(action.argv))
        if isinstance(action, HttpAction):
            # The body is part of what is approved (a silence's matchers, say): show it.
            body = "" if action.json_body is None else " " + _compact_json(action.json_body)
            return redact(f"{action.method} {action.url}{body}")
        if isinstance(action, PromqlAction):
            return redact(f"until {action.query} {_condition(action)} (≤ {action.timeout:g}s)")
        if isinstance(action, WaitAction):
            return f"wait {action.seconds:g}s"
        return redact(f"a person confirms: {action.prompt}")


def _compact_json(value: Any) -> str:
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return text if len(text) <= SHOWN_BODY_CHARS else text[: SHOWN_BODY_CHARS - 1] + "…"


def _condition(action: PromqlAction) -> str:
    if action.empty:
        return "returns nothing"
    bounds = []
    if action.below is not None:
        bounds.append(f"< {action.below:g}")
    if action.above is not None:
        bounds.append(f"> {action.above:g}")
    return " and ".join(bounds) or "returns a sample"
