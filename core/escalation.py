"""Escalation policies: who is notified, how, and when, while nobody acknowledges.

The `escalation:` section of `LOOKOUT_CONFIG`, as PagerDuty and Grafana OnCall shape it:

```yaml
escalation:
  policies:
    - name: default
      match: {severity: critical}      # service, team, severity, labels; all given must hold
      repeat: 1                        # run the levels once more if nobody acknowledged
      levels:
        - {after: 0s, notify: ["oncall:payments", "pagerduty"]}
        - {after: 15m, notify: ["user:U024BE7LH", "webhook:ops"]}
  routing: {critical: page, error: page, warning: business_hours, info: post}
  business_hours: {days: [mon, tue, wed, thu, fri], start: "09:00", end: "17:00", timezone: UTC}
  teams: {payments: {business_hours: {timezone: Europe/Berlin}}}
  rate_limit: {per_hour: 5}            # notifications per hour per kind of incident
```

A level's `after` counts from the moment the incident (or its episode) opened. After the
last level, `repeat` runs the levels again from the first, one period later: the period is
the last level's `after` plus the gap before it (PagerDuty's "repeat this policy"), or
`repeat_after` when given.

Routing per severity: `page` escalates at once; `business_hours` pages within the team's
business hours and otherwise only posts, paging when business hours begin if nobody took it
by then (PagerDuty's support hours); `post` never pages (the incident's message is the
notification).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from enum import StrEnum
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from core.severity import Severity, severity_from_name

_DURATION = re.compile(r"^(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
TARGET_KINDS = ("oncall", "user", "channel", "slack", "teams", "pagerduty", "webhook", "email")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def parse_duration(text: str | int | float | timedelta) -> timedelta:
    """`0s`, `90s`, `15m`, `1h30m`, `2d`, `1w` (or a number of seconds) → timedelta.

    Raises ValueError for anything else, and for negative spans."""
    if isinstance(text, timedelta):
        value = text
    elif isinstance(text, int | float) and not isinstance(text, bool):
        value = timedelta(seconds=text)
    else:
        spoken = str(text).strip().replace(" ", "")
        match = _DURATION.match(spoken)
        if not spoken or match is None:
            raise ValueError(f"{text!r} is not a duration like 0s, 15m, 1h30m, 2d or 1w")
        weeks, days, hours, minutes, seconds = (int(part or 0) for part in match.groups())
        value = timedelta(weeks=weeks, days=days, hours=hours, minutes=minutes, seconds=seconds)
    if value < timedelta(0):
        raise ValueError(f"{text!r} is negative")
    return value


def spoken_duration(value: timedelta) -> str:
    """The shortest way to write `value` in the units `parse_duration` reads: `1h30m`."""
    total = int(value.total_seconds())
    if total == 0:
        return "0s"
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, total = divmod(total, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


def zone(name: str) -> ZoneInfo:
    """The IANA time zone `name`; ValueError when there is none by that name."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{name!r} is not a time zone (use an IANA name: Europe/Berlin)") from None


@dataclass(frozen=True)
class Target:
    """One entry of a level's `notify` list: `oncall:payments`, `user:U024BE7LH`,
    `channel:#ops`, `slack:#ops`, `teams:General`, `pagerduty` (or `pagerduty:<key name>`),
    `webhook:ops`, `email:dana@example.com`."""

    kind: str
    name: str = ""

    @classmethod
    def parse(cls, text: str) -> Target:
        """Raises ValueError naming the kinds Lookout knows."""
        kind, _, name = text.strip().partition(":")
        kind = kind.strip().lower()
        name = name.strip()
        if kind not in TARGET_KINDS:
            raise ValueError(
                f"{text!r} is not a notification target; use one of "
                + ", ".join(f"{k}:…" if k != "pagerduty" else k for k in TARGET_KINDS)
            )
        if not name and kind != "pagerduty":
            raise ValueError(f"{text!r} names no {kind}: write {kind}:<name>")
        return cls(kind, name)

    def __str__(self) -> str:
        return f"{self.kind}:{self.name}" if self.name else self.kind

    @property
    def is_person(self) -> bool:
        return self.kind in ("oncall", "user")


class Level(BaseModel):
    model_config = ConfigDict(extra="forbid")

    after: Duration = timedelta(0)
    notify: list[str] = Field(min_length=1)

    @field_validator("notify")
    @classmethod
    def _targets(cls, value: list[str]) -> list[str]:
        return [str(Target.parse(item)) for item in value]

    @property
    def targets(self) -> list[Target]:
        return [Target.parse(item) for item in self.notify]


class PolicyMatch(BaseModel):
    """What an incident must be for its policy to apply; a list means any of them."""

    model_config = ConfigDict(extra="forbid")

    service: str | list[str] | None = None
    team: str | list[str] | None = None
    severity: str | list[str] | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    project: str | list[str] | None = None  # `core.projects`: the incident's project

    @field_validator("severity")
    @classmethod
    def _severities(cls, value: str | list[str] | None) -> str | list[str] | None:
        for name in [value] if isinstance(value, str) else value or []:
            severity_from_name(name)  # raises ValueError for a word not on the scale
        return value


def _one_of(wanted: str | list[str] | None, value: str | None) -> bool:
    if wanted is None:
        return True
    options = [wanted] if isinstance(wanted, str) else wanted
    return value is not None and value in options


class Policy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    match: PolicyMatch = Field(default_factory=PolicyMatch)
    repeat: int = Field(default=0, ge=0, le=20)
    repeat_after: Duration | None = None
    levels: list[Level] = Field(min_length=1, max_length=20)

    @model_validator(mode="after")
    def _ordered(self) -> Policy:
        afters = [level.after for level in self.levels]
        if afters != sorted(afters):
            raise ValueError(
                f"policy {self.name!r}: levels' `after` count from the start and must not go down"
            )
        return self

    @property
    def period(self) -> timedelta:
        """How long one pass over the levels takes before a repeat starts."""
        if self.repeat_after is not None:
            return max(self.repeat_after, timedelta(minutes=1))
        last = self.levels[-1].after
        gap = last - self.levels[-2].after if len(self.levels) > 1 else last
        return max(last + gap, timedelta(minutes=1))

    def due(self, *, level: int, cycle: int, base: datetime) -> datetime:
        """When `level` of `cycle` (0 = the first pass) is due, counting from `base`."""
        return base + self.period * cycle + self.levels[level].after

    def after_level(self, level: int, cycle: int) -> tuple[int, int] | None:
        """The (level, cycle) that follows, or None when the policy is exhausted."""
        if level + 1 < len(self.levels):
            return level + 1, cycle
        if cycle < self.repeat:
            return 0, cycle + 1
        return None

    def matches(self, facts: IncidentFacts) -> bool:
        wanted = self.match
        if not _one_of(wanted.service, facts.service) or not _one_of(wanted.team, facts.team):
            return False
        if not _one_of(wanted.project, facts.project):
            return False
        if wanted.severity is not None:
            options = [wanted.severity] if isinstance(wanted.severity, str) else wanted.severity
            if facts.severity not in {severity_from_name(name) for name in options}:
                return False
        if wanted.labels:
            return any(
                all(str(labels.get(key)) == value for key, value in wanted.labels.items())
                for labels in facts.labels
            )
        return True


class Routing(StrEnum):
    PAGE = "page"
    BUSINESS_HOURS = "business_hours"
    POST = "post"


class BusinessHours(BaseModel):
    """Working hours in a time zone: `days` (mon…sun), `start`–`end` local time."""

    model_config = ConfigDict(extra="forbid")

    days: list[str] = Field(default_factory=lambda: ["mon", "tue", "wed", "thu", "fri"])
    start: time = time(9, 0)
    end: time = time(17, 0)
    timezone: str = "UTC"

    @field_validator("days", mode="before")
    @classmethod
    def _days(cls, value: Any) -> list[str]:
        items = value.split(",") if isinstance(value, str) else list(value)
        days: list[str] = []
        for item in items:
            word = str(item).strip().lower()[:3]
            if "-" in str(item):
                first, _, last = str(item).lower().partition("-")
                a, b = WEEKDAYS.index(first.strip()[:3]), WEEKDAYS.index(last.strip()[:3])
                days += [WEEKDAYS[i] for i in range(a, b + 1)]
                continue
            if word not in WEEKDAYS:
                raise ValueError(f"{item!r} is not a weekday (mon … sun)")
            days.append(word)
        return days

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        zone(value)
        return value

    @model_validator(mode="after")
    def _span(self) -> BusinessHours:
        if self.end <= self.start:
            raise ValueError("business hours must end after they start (same day)")
        return self

    def contains(self, at: datetime) -> bool:
        local = at.astimezone(zone(self.timezone))
        return WEEKDAYS[local.weekday()] in self.days and self.start <= local.time() < self.end

    def next_start(self, at: datetime) -> datetime:
        """The first moment of business hours at or after `at` (aware, in the hours' zone).
        Raises ValueError when no day is a business day."""
        if not self.days:
            raise ValueError("business hours name no day")
        tz = zone(self.timezone)
        local = at.astimezone(tz)
        for offset in range(8):
            day = (local + timedelta(days=offset)).date()
            if WEEKDAYS[day.weekday()] not in self.days:
                continue
            opening = datetime.combine(day, self.start, tzinfo=tz)
            closing = datetime.combine(day, self.end, tzinfo=tz)
            if closing > local:
                return max(opening, local)
        raise AssertionError("unreachable: a business day comes within a week")

    def describe(self) -> str:
        return f"{','.join(self.days)} {self.start:%H:%M}–{self.end:%H:%M} {self.timezone}"


class TeamRules(BaseModel):
    model_config = ConfigDict(extra="forbid")

    business_hours: BusinessHours | None = None


class RateLimit(BaseModel):
    """At most `per_hour` notifications per hour per kind of incident; None: no limit."""

    model_config = ConfigDict(extra="forbid")

    per_hour: int | None = Field(default=None, ge=1, le=10_000)


class RetryRules(BaseModel):
    """How a failing notification is retried: `attempts` in all, waits doubling from
    `base_seconds` up to `max_seconds` (or what the receiver's Retry-After asks, within
    that); after `failover_after` failed attempts the next level is notified at once."""

    model_config = ConfigDict(extra="forbid")

    attempts: int = Field(default=6, ge=1, le=20)
    base_seconds: float = Field(default=10, gt=0, le=3600)
    max_seconds: float = Field(default=300, gt=0, le=24 * 3600)
    failover_after: int = Field(default=2, ge=1, le=20)

    def wait(self, attempts: int, asked: float | None = None) -> timedelta:
        own = min(self.base_seconds * 2 ** max(attempts - 1, 0), self.max_seconds)
        if asked is not None:
            own = min(max(own, asked), max(self.max_seconds, asked))
        return timedelta(seconds=own)


DEFAULT_ROUTING = {
    "critical": Routing.PAGE,
    "error": Routing.PAGE,
    "warning": Routing.BUSINESS_HOURS,
    "info": Routing.POST,
}


class EscalationRules(BaseModel):
    model_config = ConfigDict(extra="forbid")

    policies: list[Policy] = Field(default_factory=list)
    routing: dict[str, Routing] = Field(default_factory=lambda: dict(DEFAULT_ROUTING))
    business_hours: BusinessHours = Field(default_factory=BusinessHours)
    teams: dict[str, TeamRules] = Field(default_factory=dict)
    rate_limit: RateLimit = Field(default_factory=RateLimit)
    retry: RetryRules = Field(default_factory=RetryRules)
    check_seconds: float = Field(default=5, gt=0, le=300)

    @field_validator("routing", mode="before")
    @classmethod
    def _routing(cls, value: Any) -> dict[str, Any]:
        given = dict(value or {})
        for name in given:
            severity_from_name(name)
        return {**DEFAULT_ROUTING, **{severity_from_name(k).label: v for k, v in given.items()}}

    @model_validator(mode="after")
    def _unique(self) -> EscalationRules:
        names = [policy.name for policy in self.policies]
        doubled = sorted({name for name in names if names.count(name) > 1})
        if doubled:
            raise ValueError(f"two escalation policies are named {doubled[0]!r}")
        return self

    @property
    def targets(self) -> list[Target]:
        return [t for policy in self.policies for level in policy.levels for t in level.targets]

    def policy(self, name: str) -> Policy | None:
        return next((policy for policy in self.policies if policy.name == name), None)

    def routing_for(self, severity: Severity) -> Routing:
        return self.routing.get(severity.label, Routing.PAGE)

    def hours_for(self, team: str | None) -> BusinessHours:
        rules = self.teams.get(team or "")
        if rules is not None and rules.business_hours is not None:
            return rules.business_hours
        return self.business_hours


@dataclass(frozen=True)
class IncidentFacts:
    """What policies match on: the incident's service, team and project, its severity, and
    the label sets of its alerts."""

    service: str | None
    team: str | None
    severity: Severity
    labels: Sequence[Mapping[str, Any]] = ()
    project: str | None = None


class Mode(StrEnum):
    PAGE = "page"  # escalate now
    DEFER = "defer"  # post now, page when business hours begin
    POST = "post"  # never page
    NONE = "none"  # no policy matches


@dataclass(frozen=True)
class Decision:
    """What to do with a new episode: the mode, the policy, when paging starts, and why."""

    mode: Mode
    policy: Policy | None
    start: datetime | None
    reason: str


def decide(rules: EscalationRules, facts: IncidentFacts, now: datetime) -> Decision:
    """The escalation an incident (episode) opening at `now` gets."""
    policy = next((p for p in rules.policies if p.matches(facts)), None)
    routing = rules.routing_for(facts.severity)
    severity = facts.severity.label
    if routing is Routing.POST:
        return Decision(Mode.POST, policy, None, f"{severity} incidents only post (routing)")
    if policy is None:
        return Decision(Mode.NONE, None, None, "no escalation policy matches")
    if routing is Routing.BUSINESS_HOURS:
        hours = rules.hours_for(facts.team)
        if not hours.contains(now):
            start = hours.next_start(now)
            return Decision(
                Mode.DEFER,
                policy,
                start,
                f"{severity} outside business hours ({hours.describe()}): posted; paging "
                f"starts {start:%a %H:%M} {hours.timezone} if nobody has taken it",
            )
        return Decision(
            Mode.PAGE, policy, now, f"{severity} in business hours: policy {policy.name}"
        )
    return Decision(Mode.PAGE, policy, now, f"{severity}: policy {policy.name}")
