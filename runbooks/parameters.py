"""Typed runbook parameters and the checks every value passes before anything runs.

Values come from chat (`run restart-service unit=nginx.service`), so they are hostile until
proven otherwise. Every string-like value passes the same hygiene rules whatever its declared
pattern: bounded length, no control characters (a newline is how a value smuggles a second
command or header), no leading `-` (option injection: `--kubeconfig=/tmp/evil`), no `..` path
segment (path traversal). Then the kind's own rule: a regex, an enum, a range, the catalog.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection
from datetime import timedelta
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

NAME_PATTERN = r"^[a-z][a-z0-9_]{0,31}$"
RESERVED_NAMES = frozenset({"vars", "now", "run"})
HARD_MAX_LENGTH = 1024
# The default for a string without a pattern: no spaces, quotes, `$`, `;`, `|`, `&`, backticks,
# braces or globs, so a value reads the same to every program it may reach.
SAFE_VALUE = r"[A-Za-z0-9_.:/@+=,-]+"
_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
_INTEGER = re.compile(r"^-?\d{1,18}$")


def hygiene_problem(value: str, max_length: int) -> str | None:
    """Why `value` is unsafe as an argument whatever the runbook declared, or None."""
    if not value:
        return "is empty"
    if len(value) > max_length:
        return f"is longer than {max_length} characters"
    if any(unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp") for char in value):
        return "contains a control character (newline, tab, NUL…)"
    if value.startswith("-"):
        return "starts with '-' and would be read as an option"
    if ".." in re.split(r"[/\\]", value):
        return "contains a '..' path segment"
    return None


def unusual_character(value: str) -> str | None:
    """The first character of `value` that is neither ASCII nor a letter — a look-alike dash
    or space, a fullwidth sign — named by code point (`U+2011 NON-BREAKING HYPHEN`), or None.
    A refusal names it, since the value may look exactly like an accepted one."""
    for char in value:
        if not char.isascii() and not unicodedata.category(char).startswith("L"):
            name = unicodedata.name(char, "")
            return f"U+{ord(char):04X}" + (f" {name}" if name else "")
    return None


def _with_unusual(problem: str, value: str) -> str:
    found = unusual_character(value)
    return f"{problem}; it contains an unusual character, {found}" if found else problem


def parse_duration(text: str) -> timedelta:
    """`90s`, `15m`, `2h`, `1d12h` → timedelta; anything else raises ValueError."""
    match = _DURATION.match(text.strip())
    if not text.strip() or match is None:
        raise ValueError(f"{text!r} is not a duration like 30m, 2h or 1d12h")
    days, hours, minutes, seconds = (int(part or 0) for part in match.groups())
    return timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)


def format_duration(value: timedelta) -> str:
    total = int(value.total_seconds())
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, total = divmod(total, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"


class BaseParameter(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=NAME_PATTERN)
    description: str = ""
    default: str | None = None
    secret: bool = Field(
        default=False, description="hidden in plans, progress and output; never allowed in argv"
    )
    label: list[str] = Field(
        default_factory=list,
        description="alert labels the value comes from in a run for an incident, first found "
        "wins; a label named like the parameter is always tried last",
    )
    label_pattern: str | None = Field(
        default=None,
        description="regex searched in the label's value; its first group (else the whole "
        "match) is the value, e.g. '^([^:]+)' for the host of an `instance` label",
    )

    @field_validator("label", mode="before")
    @classmethod
    def _one_or_more_labels(cls, value: object) -> object:
        return [value] if isinstance(value, str) else value

    @field_validator("label")
    @classmethod
    def _label_names(cls, labels: list[str]) -> list[str]:
        for label in labels:
            if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,127}", label) is None:
                raise ValueError(f"{label!r} is not a Prometheus label name")
        return labels

    @field_validator("label_pattern")
    @classmethod
    def _pattern_compiles(cls, pattern: str | None) -> str | None:
        if pattern is not None:
            try:
                re.compile(pattern)
            except re.error as error:
                raise ValueError(f"label_pattern does not compile: {error}") from None
        return pattern

    @field_validator("name")
    @classmethod
    def _not_reserved(cls, name: str) -> str:
        if name in RESERVED_NAMES:
            raise ValueError(f"{name!r} is reserved for built-in template names")
        return name

    @field_validator("default", mode="before")
    @classmethod
    def _default_as_text(cls, value: object) -> object:
        # YAML reads `default: 3` as an int; parameters are text until bound.
        return (
            str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value
        )

    @model_validator(mode="after")
    def _default_is_valid(self) -> BaseParameter:
        if self.default is not None and (problem := self.problem(self.default, services=None)):
            raise ValueError(f"default {self.default!r} {problem}")
        if self.secret and (self.label or self.label_pattern):
            raise ValueError("a secret comes from Lookout's environment, never from alert labels")
        return self

    def labels_to_try(self) -> list[str]:
        """The labels a run for an incident reads this parameter from, in order."""
        return list(dict.fromkeys([*self.label, self.name]))

    def from_label(self, value: str) -> str | None:
        """The parameter's value in a label's value (through `label_pattern`), or None."""
        if self.label_pattern is None:
            return value or None
        match = re.search(self.label_pattern, value)
        if match is None:
            return None
        found = match.group(1) if match.groups() else match.group(0)
        return found or None

    @property
    def choices(self) -> tuple[str, ...]:
        """The only values allowed, when the parameter has a fixed set (an enum)."""
        return ()

    def value_hint(self) -> str:
        """What a value looks like, for a person filling it in."""
        return ""

    def normalize(self, value: str, *, services: Collection[str] | None) -> str:
        """The value as templates will see it; raises ValueError with the reason."""
        if problem := self.problem(value, services=services):
            raise ValueError(problem)
        return value

    def problem(self, value: str, *, services: Collection[str] | None) -> str | None:
        raise NotImplementedError


class StringParameter(BaseParameter):
    type: Literal["string"] = "string"
    pattern: str | None = Field(default=None, description="full-match regex; default: safe chars")
    max_length: int = Field(default=128, ge=1, le=HARD_MAX_LENGTH)

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, pattern: str | None) -> str | None:
        if pattern is not None:
            try:
                re.compile(pattern)
            except re.error as error:
                raise ValueError(f"pattern does not compile: {error}") from None
        return pattern

    def problem(self, value: str, *, services: Collection[str] | None) -> str | None:
        if problem := hygiene_problem(value, self.max_length):
            return problem
        pattern = self.pattern if self.pattern is not None else SAFE_VALUE
        if re.fullmatch(pattern, value) is None:
            return _with_unusual(f"does not match {pattern!r}", value)
        return None


class EnumParameter(BaseParameter):
    type: Literal["enum"] = "enum"
    values: list[str] = Field(min_length=1)

    def problem(self, value: str, *, services: Collection[str] | None) -> str | None:
        if value not in self.values:
            return _with_unusual(f"is not one of {', '.join(self.values)}", value)
        return None

    @property
    def choices(self) -> tuple[str, ...]:
        return tuple(self.values)

    def value_hint(self) -> str:
        return "one of " + ", ".join(self.values)


class IntParameter(BaseParameter):
    type: Literal["int"] = "int"
    minimum: int
    maximum: int

    @model_validator(mode="before")
    @classmethod
    def _range_is_ordered(cls, data: object) -> object:
        if isinstance(data, dict) and isinstance(data.get("minimum"), int):
            maximum = data.get("maximum")
            if isinstance(maximum, int) and maximum < data["minimum"]:
                raise ValueError("maximum is below minimum")
        return data

    def problem(self, value: str, *, services: Collection[str] | None) -> str | None:
        if _INTEGER.match(value) is None:
            return "is not a whole number"
        if not self.minimum <= int(value) <= self.maximum:
            return f"is outside {self.minimum}..{self.maximum}"
        return None

    def normalize(self, value: str, *, services: Collection[str] | None) -> str:
        return str(int(super().normalize(value.strip(), services=services)))

    def value_hint(self) -> str:
        return f"a whole number, {self.minimum}..{self.maximum}"


class ServiceParameter(BaseParameter):
    """A service name from the catalog (LOOKOUT_CONFIG's `services`)."""

    type: Literal["service"] = "service"

    def problem(self, value: str, *, services: Collection[str] | None) -> str | None:
        if problem := hygiene_problem(value, 128):
            return problem
        if services is not None and value not in services:
            return "is not a service in the catalog"
        return None

    def value_hint(self) -> str:
        return "a service of the catalog"


class DurationParameter(BaseParameter):
    """`30m`, `2h`…; templates may also use `{{name.until}}`: plan time + the duration, RFC 3339."""

    type: Literal["duration"] = "duration"
    minimum: str = "1m"
    maximum: str = "1d"

    @field_validator("minimum", "maximum")
    @classmethod
    def _parses(cls, value: str) -> str:
        parse_duration(value)
        return value

    def problem(self, value: str, *, services: Collection[str] | None) -> str | None:
        try:
            duration = parse_duration(value)
        except ValueError as error:
            return str(error)
        low, high = parse_duration(self.minimum), parse_duration(self.maximum)
        if not low <= duration <= high:
            return f"is outside {self.minimum}..{self.maximum}"
        return None

    def normalize(self, value: str, *, services: Collection[str] | None) -> str:
        return format_duration(parse_duration(super().normalize(value, services=services)))

    def value_hint(self) -> str:
        return f"a duration like 30m or 2h, {self.minimum}..{self.maximum}"


Parameter = Annotated[
    StringParameter | EnumParameter | IntParameter | ServiceParameter | DurationParameter,
    Field(discriminator="type"),
]
