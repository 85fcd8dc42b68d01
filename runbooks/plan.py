"""Bind parameters and render every step: the exact argv, URL and query that would run.

A `Plan` is what people approve: it is shown in full (secrets masked), carries a digest, and
the executor runs it without rendering anything again. Every check that can fail before a
command starts fails here: unknown or invalid parameters, programs not on the allowlist, hosts
not on the allowlist, timeouts above the limit.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Collection, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import httpx

from runbooks.actions import (
    Action,
    ExecAction,
    HttpAction,
    ManualAction,
    PlannedStep,
    PromqlAction,
    WaitAction,
)
from runbooks.config import Executables, ExecutionConfig
from runbooks.parameters import DurationParameter, parse_duration
from runbooks.redact import Redactor
from runbooks.schema import (
    ExecStep,
    HttpStep,
    ManualStep,
    PromqlStep,
    Risk,
    Runbook,
    Step,
    WaitStep,
)
from runbooks.templates import (
    BUILTIN_NOW,
    UNTIL_SUFFIX,
    VARIABLES_PREFIX,
    TemplateError,
    as_is,
    promql_string,
    render,
    url_component,
)


class PlanError(ValueError):
    """The run cannot be planned; `problems` are sentences for the person who asked.
    `missing` names every required parameter without a value and `invalid` every parameter
    whose value was refused, so a chat can ask for all of them at once."""

    def __init__(
        self,
        problems: list[str],
        *,
        missing: list[str] | None = None,
        invalid: list[str] | None = None,
    ) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems
        self.missing = missing or []
        self.invalid = invalid or []


@dataclass(frozen=True)
class Plan:
    runbook: str
    title: str
    risk: Risk
    parameters: Mapping[str, str]
    steps: tuple[PlannedStep, ...]
    rollback: tuple[PlannedStep, ...]
    secret_parameters: frozenset[str]
    planned_at: datetime
    digest: str
    # Why this plan cannot run on this Lookout (a program or host not on its allowlist); only a
    # dry run is ever planned with any.
    blocked: tuple[str, ...] = ()

    @property
    def secrets(self) -> list[str]:
        return [self.parameters[name] for name in self.secret_parameters]

    def redactor(self, config: ExecutionConfig) -> Redactor:
        """Masks this plan's secret values and anything shaped like a credential."""
        return Redactor(self.secrets, config.redact_patterns)

    def describe(self, redact: Callable[[str], str]) -> list[str]:
        """One line per step, as shown before approval and in a dry run."""
        lines = [f"{s.number}. {s.name}: {s.describe(redact)}" for s in self.steps]
        lines += [f"rollback {s.number}. {s.name}: {s.describe(redact)}" for s in self.rollback]
        return lines

    def shown_parameters(self) -> dict[str, str]:
        return {
            name: "***" if name in self.secret_parameters else value
            for name, value in self.parameters.items()
        }


def bind_parameters(
    runbook: Runbook,
    arguments: Mapping[str, str],
    *,
    services: Collection[str] | None,
) -> dict[str, str]:
    """Check every argument, fill defaults; raises PlanError listing all problems at once."""
    problems = [f"unknown parameter {k!r}" for k in arguments if runbook.parameter(k) is None]
    values: dict[str, str] = {}
    missing: list[str] = []
    invalid: list[str] = []
    for parameter in runbook.parameters:
        raw = arguments.get(parameter.name, parameter.default)
        if raw is None:
            problems.append(f"{parameter.name} is required")
            missing.append(parameter.name)
            continue
        try:
            values[parameter.name] = parameter.normalize(raw, services=services)
        except ValueError as error:
            shown = "the value" if parameter.secret else f"{_short(raw)!r}"
            problems.append(f"{parameter.name}: {shown} {error}")
            invalid.append(parameter.name)
    if problems:
        raise PlanError(problems, missing=missing, invalid=invalid)
    return values


def build_plan(
    runbook: Runbook,
    arguments: Mapping[str, str],
    *,
    config: ExecutionConfig,
    executables: Executables,
    services: Collection[str] | None,
    now: datetime,
    strict: bool = True,
) -> Plan:
    """Everything the run will do, rendered; raises PlanError before anything can run.

    With `strict=False` (a dry run: nothing will run) what only this Lookout's allowlists
    refuse does not stop the plan: it is shown, with those reasons in `Plan.blocked`."""
    values = bind_parameters(runbook, arguments, services=services)
    context = dict(values)
    context[BUILTIN_NOW] = _rfc3339(now)
    for parameter in runbook.parameters:
        if isinstance(parameter, DurationParameter):
            until = now + parse_duration(values[parameter.name])
            context[parameter.name + UNTIL_SUFFIX] = _rfc3339(until)
    context.update({VARIABLES_PREFIX + k: v for k, v in config.variables.items()})
    renderer = _Renderer(config, executables, context)
    steps = tuple(renderer.step(n, s) for n, s in enumerate(runbook.steps, 1))
    rollback = tuple(renderer.step(n, s) for n, s in enumerate(runbook.rollback, 1))
    if renderer.problems or (strict and renderer.blocked):
        raise PlanError(list(dict.fromkeys([*renderer.problems, *renderer.blocked])))
    return Plan(
        runbook=runbook.name,
        title=runbook.title,
        risk=runbook.risk,
        parameters=values,
        steps=steps,
        rollback=rollback,
        secret_parameters=frozenset(p.name for p in runbook.parameters if p.secret),
        planned_at=now,
        digest=_digest(runbook.name, values, steps, rollback),
        blocked=tuple(dict.fromkeys(renderer.blocked)),
    )


class _Renderer:
    def __init__(
        self, config: ExecutionConfig, executables: Executables, context: dict[str, str]
    ) -> None:
        self.config = config
        self.executables = executables
        self.context = context
        self.problems: list[str] = []
        self.blocked: list[str] = []  # refused by this installation's allowlists only

    def step(self, number: int, step: Step) -> PlannedStep:
        action = self._action(step)
        return PlannedStep(
            number, step.name, step.continue_on_fail, action, read_only=step.changes_nothing
        )

    def _text(self, step: Step, template: str, escape: Callable[[str], str] = as_is) -> str:
        try:
            return render(template, self.context, escape)
        except TemplateError as error:
            self.problems.append(f"step {step.name!r}: {error}")
            return template

    def _timeout(self, step: Step, default: float) -> float:
        timeout = step.timeout_seconds or default
        if timeout > self.config.max_timeout_seconds:
            limit = self.config.max_timeout_seconds
            self.problems.append(f"step {step.name!r}: timeout {timeout:g}s is above {limit:g}s")
        return timeout

    def _action(self, step: Step) -> Action:
        if isinstance(step, ExecStep):
            program = self.executables.resolve(step.argv[0])
            if program is None:
                self.blocked.append(f"{step.argv[0]!r} is not an allowed executable here")
            argv = (program or step.argv[0], *(self._text(step, a) for a in step.argv[1:]))
            for name in step.env:
                if name not in self.config.env_allowlist:
                    self.blocked.append(f"step {step.name!r}: env {name} is not allowed here")
            env = {k: self._text(step, v) for k, v in step.env.items()}
            return ExecAction(argv, env, self._timeout(step, self.config.default_timeout_seconds))
        if isinstance(step, HttpStep):
            url = self._text(step, step.url, url_component)
            if not self.config.host_allowed(_parse_url(url)):
                self.blocked.append(f"step {step.name!r}: {url} is not an allowed host here")
            return HttpAction(
                method=step.method,
                url=url,
                headers={k: self._text(step, v) for k, v in step.headers.items()},
                json_body=self._json(step, step.json_body),
                expect_status=tuple(step.expect_status),
                retries=step.retries,
                retry_delay=step.retry_delay_seconds,
                timeout=self._timeout(step, self.config.default_timeout_seconds),
            )
        if isinstance(step, PromqlStep):
            return PromqlAction(
                query=self._text(step, step.query, promql_string),
                below=step.below,
                above=step.above,
                empty=step.empty,
                poll_seconds=step.poll_seconds,
                timeout=self._timeout(step, self.config.promql_timeout_seconds),
            )
        if isinstance(step, WaitStep):
            return WaitAction(step.seconds)
        assert isinstance(step, ManualStep)
        prompt = self._text(step, step.prompt)
        return ManualAction(prompt, self._timeout(step, self.config.manual_timeout_seconds))

    def _json(self, step: Step, value: Any) -> Any:
        # Values land inside JSON strings and are serialized by httpx: no quoting to escape.
        if isinstance(value, str):
            return self._text(step, value)
        if isinstance(value, dict):
            return {k: self._json(step, v) for k, v in value.items()}
        if isinstance(value, list):
            return [self._json(step, v) for v in value]
        return value


def _parse_url(url: str) -> httpx.URL:
    try:
        return httpx.URL(url)
    except httpx.InvalidURL:
        return httpx.URL("invalid://")


def _rfc3339(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _short(value: str) -> str:
    return value if len(value) <= 60 else value[:57] + "…"


def _digest(name: str, values: Mapping[str, str], *phases: tuple[PlannedStep, ...]) -> str:
    """A fingerprint of exactly what will run: an approval is for this digest, so a plan
    rebuilt later (after a runbook sync, say) can be checked against what was approved."""
    body = json.dumps(
        {"runbook": name, "parameters": values, "phases": [[asdict(s) for s in p] for p in phases]},
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(body.encode()).hexdigest()[:16]
