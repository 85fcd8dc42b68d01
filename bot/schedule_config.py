"""The config sections behind the scheduler: `schedules:` (reports on a cron) and `slo:`
(Sloth files, read relative to the config file)."""

from __future__ import annotations

import zoneinfo
from pathlib import Path
from typing import Self

import yaml
from apscheduler.triggers.cron import CronTrigger
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from core.slo import Slo, SlothSpec, TrafficGuard, slos_of


class ScheduleEntry(BaseModel):
    """`- {skill: "slo report", channel: "#sre", cron: "0 9 * * 1-5", timezone: Europe/Berlin}`"""

    model_config = ConfigDict(extra="forbid")

    skill: str = Field(min_length=1, max_length=200, description="the command, as typed")
    channel: str = Field(min_length=1, max_length=255)
    channels: dict[str, str] = Field(
        default_factory=dict, description="per-platform channel, e.g. {teams: General}"
    )
    cron: str = Field(max_length=120, description="crontab: minute hour day month weekday")
    timezone: str = "UTC"
    name: str | None = Field(default=None, max_length=120)
    project: str | None = Field(
        default=None,
        max_length=64,
        description="the project the report reads (default: the one owning its channel)",
    )

    @model_validator(mode="after")
    def _valid(self) -> Self:
        try:
            zoneinfo.ZoneInfo(self.timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown timezone {self.timezone!r}") from None
        self.trigger()
        return self

    def trigger(self) -> CronTrigger:
        """The cron trigger; raises ValueError for a crontab APScheduler cannot read."""
        try:
            return crontab_trigger(self.cron, self.timezone)
        except ValueError as error:
            raise ValueError(f"schedule {self.cron!r}: {error}") from None

    @property
    def job_id(self) -> str:
        return (
            f"report:{self.name or f'{self.skill} → {self.channel} ({self.cron}, {self.timezone})'}"
        )


DAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


def crontab_trigger(expression: str, timezone: str) -> CronTrigger:
    """A crontab line (minute hour day month weekday) as crontab means it.

    APScheduler 3 numbers weekdays from Monday = 0 (its `from_crontab` turns `1-5` into
    Tuesday to Saturday), so the weekday field is rewritten with day names first: crontab's
    0 and 7 are Sunday. Raises ValueError for a malformed line."""
    fields = expression.split()
    if len(fields) != 5:
        raise ValueError(f"a crontab has 5 fields, this one {len(fields)}")
    minute, hour, day, month, weekday = fields
    return CronTrigger(
        minute=minute,
        hour=hour,
        day=day,
        month=month,
        day_of_week=_weekdays(weekday),
        timezone=timezone,
    )


def _weekdays(field: str) -> str:
    if field == "*":
        return "*"
    days: set[int] = set()
    for part in field.split(","):
        base, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if step < 1:
            raise ValueError(f"bad weekday step in {field!r}")
        if base == "*":
            first, last = 0, 6
        elif "-" in base:
            start, end = base.split("-", 1)
            first, last = _weekday(start), _weekday(end)
            if last == 0 and first > 0:
                last = 7  # `5-7`, `fri-sun`: through Sunday
        else:
            first = _weekday(base)
            last = 6 if step_text else first
        if first > last:
            raise ValueError(f"weekday range {base!r} runs backwards")
        days.update(day % 7 for day in range(first, last + 1, step))
    return ",".join(DAY_NAMES[day] for day in sorted(days))


def _weekday(text: str) -> int:
    text = text.strip().lower()
    if text[:3] in DAY_NAMES:
        return DAY_NAMES.index(text[:3])
    if not text.isdigit() or int(text) > 7:
        raise ValueError(f"unknown weekday {text!r}")
    return int(text) % 7 if int(text) != 7 else 0


class SloConfig(BaseModel):
    """`slo: {files: [...]}`; every other field optional."""

    model_config = ConfigDict(extra="forbid")

    files: list[str] = Field(default_factory=list, description="Sloth prometheus/v1 files")
    window_days: int = Field(default=28, ge=1, le=90, description="the SLO window")
    evaluate_minutes: float = Field(default=1, ge=0.25, le=60, description="burn-rate rules")
    min_events: float = Field(default=100, ge=0, description="traffic guard: events")
    min_bad_events: float = Field(default=10, ge=0, description="traffic guard: bad events")
    timeout_seconds: float = Field(default=10, gt=0, le=60)

    @property
    def guard(self) -> TrafficGuard:
        return TrafficGuard(min_events=self.min_events, min_bad_events=self.min_bad_events)


def load_slos(config: SloConfig, *, config_path: Path | None) -> list[Slo]:
    """Every SLO of every listed file (paths relative to the config file). Raises ValueError
    naming the file for one that cannot be read or is not a Sloth prometheus/v1 spec."""
    base = config_path.parent if config_path is not None else Path.cwd()
    found: list[Slo] = []
    for name in config.files:
        path = base / name
        try:
            data = yaml.safe_load(path.read_text())
        except (OSError, ValueError, RecursionError, yaml.YAMLError) as error:
            # As for the config file: bad bytes, impossible dates, too deep nesting.
            raise ValueError(f"cannot read SLO file {path}: {error}") from None
        try:
            spec = SlothSpec.parse(data)
        except ValidationError as error:
            first = error.errors()[0]
            where = ".".join(str(part) for part in first["loc"])
            raise ValueError(
                f"{path} is not a Sloth prometheus/v1 spec: {where}: {first['msg']}"
            ) from None
        found += slos_of(spec)
    keys = [slo.key for slo in found]
    duplicates = sorted({key for key in keys if keys.count(key) > 1})
    if duplicates:
        raise ValueError(f"SLOs defined twice: {', '.join(duplicates)}")
    return found
