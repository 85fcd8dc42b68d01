"""The runbook format: what a YAML file in the library or the runbook repository may say.

Structure is checked by pydantic; what needs the whole runbook (every placeholder names a
declared parameter, secrets stay out of argv) is `reference_problems`, which reports the exact
location so the loader can point at a line.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterator, Mapping
from pathlib import PurePath
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from runbooks.config import SHELLS
from runbooks.parameters import DurationParameter, Parameter
from runbooks.templates import (
    BUILTIN_NOW,
    UNTIL_SUFFIX,
    VARIABLES_PREFIX,
    TemplateError,
    has_placeholder,
    placeholders,
)

Risk = Literal["low", "medium", "high"]
Approval = Literal["none", "one", "two"]
RoleName = Literal["responder", "admin"]  # a viewer never runs or approves anything
DEFAULT_ROLES: tuple[RoleName, ...] = ("responder", "admin")
Location = tuple[str | int, ...]

ENV_NAME = r"^[A-Z_][A-Z0-9_]{0,63}$"
# A step may never set these, whatever the configuration allows: each one makes the started
# program load or run code chosen by whoever controls the value.
FORBIDDEN_STEP_ENV = re.compile(r"^(PATH|LD_.*|DYLD_.*|BASH_ENV|ENV|IFS|PYTHON.*|NODE_OPTIONS)$")
# `run show R-12` shows a run: no runbook may be called `show`.
RESERVED_RUNBOOK_NAMES = frozenset({"show"})
MINIMUM_APPROVAL: dict[str, int] = {"low": 0, "medium": 1, "high": 2}
APPROVAL_LEVEL: dict[str, int] = {"none": 0, "one": 1, "two": 2}
DEFAULT_APPROVAL: dict[str, Approval] = {"low": "none", "medium": "one", "high": "two"}
READ_METHODS = ("GET", "HEAD")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Trigger(_Model):
    """What a runbook is for. An alert fits a trigger when the trigger names it — by alert
    name (`alerts`, globs, case-insensitive) or by a metric its rule queries (`metrics`, read
    from the alert's generatorURL) — and every constraint given holds: `labels` (label →
    glob), `services` (the alert's service), `service_types` (that service's catalog type).
    A trigger with neither `alerts` nor `metrics` names every alert that meets its
    constraints."""

    alerts: list[str] = Field(default_factory=list, description="alertname globs, e.g. Disk*")
    metrics: list[str] = Field(
        default_factory=list, description="metric names the alert's rule queries, e.g. pg_up"
    )
    labels: dict[str, str] = Field(default_factory=dict, description="label → glob")
    services: list[str] = Field(default_factory=list)
    service_types: list[str] = Field(
        default_factory=list, description="catalog service types, e.g. postgresql"
    )

    @model_validator(mode="after")
    def _says_something(self) -> Trigger:
        if not (self.alerts or self.metrics or self.labels or self.services or self.service_types):
            raise ValueError("a trigger needs alerts, metrics, labels, services or service_types")
        return self

    def alert_pattern(self, alertname: str) -> str | None:
        """The first of `alerts` that `alertname` matches (case-insensitive), or None."""
        name = alertname.lower()
        return next((p for p in self.alerts if fnmatch.fnmatchcase(name, p.lower())), None)

    def label_mismatch(self, labels: Mapping[str, str]) -> str | None:
        """The first label constraint `labels` fails, or None when all hold."""
        for key, pattern in self.labels.items():
            if not fnmatch.fnmatchcase(labels.get(key, ""), pattern):
                return key
        return None


class Policy(_Model):
    approval: Approval | None = Field(
        default=None, description="none | one (a responder confirms) | two (a second person)"
    )
    approval_timeout_minutes: int = Field(default=30, ge=1, le=24 * 60)
    max_runs_per_hour: int = Field(default=5, ge=1, le=1000)
    allowed_roles: list[RoleName] = Field(default_factory=lambda: list(DEFAULT_ROLES))


class _Step(_Model):
    name: str = Field(min_length=1, max_length=120)
    continue_on_fail: bool = False
    timeout_seconds: float | None = Field(default=None, gt=0, le=24 * 3600)
    read_only: bool = Field(
        default=False,
        description="the step only shows or checks, changing nothing; a rollback runs only "
        "once a step that is not read-only has started (promql and wait steps always are)",
    )

    @property
    def changes_nothing(self) -> bool:
        """Whether the step leaves every system as it found it: declared `read_only`, or a
        kind that cannot change anything."""
        return self.read_only


class ExecStep(_Step):
    """A program and its arguments; never a shell string."""

    kind: Literal["exec"]
    argv: list[str] = Field(min_length=1, max_length=256)
    env: dict[str, str] = Field(default_factory=dict)

    @field_validator("argv")
    @classmethod
    def _literal_program(cls, argv: list[str]) -> list[str]:
        if has_placeholder(argv[0]) or not argv[0].strip():
            raise ValueError("argv[0] must be a literal program name, not a template")
        if PurePath(argv[0]).name in SHELLS:
            raise ValueError(
                f"{argv[0]!r} is a shell: a step is one program and its arguments, and no "
                "configuration can allow a shell; call the program itself"
            )
        return argv

    @field_validator("env")
    @classmethod
    def _env_names(cls, env: dict[str, str]) -> dict[str, str]:
        for name in env:
            if re.match(ENV_NAME, name) is None:
                raise ValueError(f"{name!r} is not an environment variable name")
            if FORBIDDEN_STEP_ENV.match(name):
                raise ValueError(f"a step may not set {name}")
        return env


class HttpStep(_Step):
    kind: Literal["http"]
    method: Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"] = "GET"
    url: str = Field(min_length=1)
    headers: dict[str, str] = Field(default_factory=dict)
    json_body: Any = Field(default=None, alias="json")
    expect_status: list[int] = Field(default_factory=list, description="empty means any 2xx")
    retries: int = Field(default=0, ge=0, le=10)
    retry_delay_seconds: float = Field(default=2, ge=0, le=300)

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @field_validator("url")
    @classmethod
    def _http_url(cls, url: str) -> str:
        if not url.startswith(("http://", "https://", "{{")):
            raise ValueError("url must start with http://, https:// or {{vars.name}}")
        return url

    @model_validator(mode="after")
    def _read_only_reads(self) -> HttpStep:
        if self.read_only and self.method not in READ_METHODS:
            raise ValueError(
                f"a {self.method} request changes something: only GET and HEAD steps may be "
                "read_only"
            )
        return self


class PromqlStep(_Step):
    """Verify a condition in Prometheus, polling until it holds or the step times out.

    Holds when the query returns at least one sample and every sample is within
    `below`/`above`; with `empty: true`, when it returns no sample (e.g. an alert is gone).
    """

    kind: Literal["promql"]
    query: str = Field(min_length=1)
    below: float | None = None
    above: float | None = None
    empty: bool = False
    poll_seconds: float = Field(default=15, gt=0, le=600)

    @model_validator(mode="after")
    def _one_condition(self) -> PromqlStep:
        if self.empty and (self.below is not None or self.above is not None):
            raise ValueError("empty: true cannot be combined with below/above")
        return self

    @property
    def changes_nothing(self) -> bool:
        """A query changes nothing."""
        return True


class WaitStep(_Step):
    kind: Literal["wait"]
    seconds: float = Field(gt=0, le=3600)

    @property
    def changes_nothing(self) -> bool:
        """Waiting changes nothing."""
        return True


class ManualStep(_Step):
    """A person confirms (a button in chat) before the run goes on."""

    kind: Literal["manual"]
    prompt: str = Field(min_length=1, max_length=2000)


Step = Annotated[
    ExecStep | HttpStep | PromqlStep | WaitStep | ManualStep, Field(discriminator="kind")
]


class Runbook(_Model):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{1,62}$")

    @field_validator("name")
    @classmethod
    def _not_a_subcommand(cls, name: str) -> str:
        if name in RESERVED_RUNBOOK_NAMES:
            raise ValueError(f"{name!r} is a word of the run command (`run {name} R-12`)")
        return name

    title: str = Field(min_length=1, max_length=120)
    description: str = ""
    # The one project whose people may find and run it; none: every project's.
    project: str | None = Field(default=None, min_length=1, max_length=64)
    tags: list[str] = Field(default_factory=list)
    triggers: list[Trigger] = Field(default_factory=list)
    parameters: list[Parameter] = Field(default_factory=list)
    risk: Risk
    policy: Policy = Field(default_factory=Policy)
    steps: list[Step] = Field(min_length=1, max_length=100)
    rollback: list[Step] = Field(default_factory=list, max_length=100)

    @model_validator(mode="after")
    def _approval_matches_risk(self) -> Runbook:
        # A runbook may ask for more approval than its risk needs, never less.
        if self.policy.approval is not None:
            needed = MINIMUM_APPROVAL[self.risk]
            if APPROVAL_LEVEL[self.policy.approval] < needed:
                raise ValueError(f"{self.risk} risk needs approval of at least {needed} people")
        return self

    @property
    def approval(self) -> Approval:
        """The effective approval rule: the policy's, or the minimum its risk needs."""
        if self.policy.approval is not None:
            return self.policy.approval
        return DEFAULT_APPROVAL[self.risk]

    def parameter(self, name: str) -> Parameter | None:
        return next((p for p in self.parameters if p.name == name), None)

    def programs(self) -> list[str]:
        """Every program its exec steps start (steps and rollback), in order, once each."""
        return list(
            dict.fromkeys(
                step.argv[0] for step in (*self.steps, *self.rollback) if isinstance(step, ExecStep)
            )
        )


def step_templates(step: Step) -> Iterator[tuple[Location, str]]:
    """Every templated string of a step, with its location inside the step."""
    if isinstance(step, ExecStep):
        for index, arg in enumerate(step.argv):
            yield ("argv", index), arg
        for name, value in step.env.items():
            yield ("env", name), value
    elif isinstance(step, HttpStep):
        yield ("url",), step.url
        for name, value in step.headers.items():
            yield ("headers", name), value
        yield from _json_strings(step.json_body, ("json",))
    elif isinstance(step, PromqlStep):
        yield ("query",), step.query
    elif isinstance(step, ManualStep):
        yield ("prompt",), step.prompt


def _json_strings(value: Any, location: Location) -> Iterator[tuple[Location, str]]:
    if isinstance(value, str):
        yield location, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _json_strings(item, (*location, str(key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _json_strings(item, (*location, index))


def reference_problems(runbook: Runbook) -> list[tuple[Location, str]]:
    """Placeholders that name nothing, and secrets placed where anyone could read them."""
    declared = {p.name: p for p in runbook.parameters}
    problems: list[tuple[Location, str]] = []
    for section in ("steps", "rollback"):
        for index, step in enumerate(getattr(runbook, section)):
            for where, template in step_templates(step):
                location: Location = (section, index, *where)
                try:
                    names = placeholders(template)
                except TemplateError as error:
                    problems.append((location, str(error)))
                    continue
                for name in names:
                    if problem := _name_problem(name, declared, where):
                        problems.append((location, problem))
    return problems


def _name_problem(name: str, declared: Mapping[str, Parameter], where: Location) -> str | None:
    if name.startswith(VARIABLES_PREFIX) or name == BUILTIN_NOW:
        return None
    if name.endswith(UNTIL_SUFFIX):
        base = declared.get(name.removesuffix(UNTIL_SUFFIX))
        if not isinstance(base, DurationParameter):
            return f"{{{{{name}}}}} needs a duration parameter {name.removesuffix(UNTIL_SUFFIX)!r}"
        return None
    parameter = declared.get(name)
    if parameter is None:
        return f"{{{{{name}}}}} is not a declared parameter"
    if parameter.secret and where[0] == "argv":
        return f"secret parameter {name!r} in argv: any local user can read argv; use env"
    return None
