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
    cron: str = Field(min_length=9, max_length=120, description="crontab: min hour dom mon dow")
    timezone: str = "UTC"
    name: str | None = Field(default=None, max_length=120)

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
            return CronTrigger.from_crontab(self.cron, timezone=self.timezone)
        except ValueError as error:
            raise ValueError(f"schedule {self.cron!r}: {error}") from None

    @property
    def job_id(self) -> str:
        return (
            f"report:{self.name or f'{self.skill} → {self.channel} ({self.cron}, {self.timezone})'}"
        )


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
        except (OSError, yaml.YAMLError) as error:
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
