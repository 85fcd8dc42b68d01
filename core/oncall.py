"""On-call schedules: who is on call at a moment, and who comes next.

A schedule is a rotation written in config, or the shifts of an iCalendar feed (Grafana
OnCall and PagerDuty export one per schedule; `integrations.oncall_calendar` reads it), with
overrides on top:

```yaml
oncall:
  schedules:
    payments:
      timezone: Europe/Berlin
      rotation: {users: [dana, lee, sam], shift: 1w, handoff: "mon 09:00", start: 2026-01-05}
      overrides:
        - {user: sam, start: "2026-12-24 18:00", end: "2026-12-27 09:00"}
    database:
      calendar: https://oncall.example.com/api/v1/schedules/ABC/export?token=…   # or a file
```

A rotation hands over at `handoff` local time (with a weekday for shifts of whole weeks),
so a hand-off stays at 09:00 across daylight-saving changes; the first user's first shift
starts at the first hand-off at or after `start` (default 2020-01-06, a Monday).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from core.escalation import WEEKDAYS, Duration, zone

_HANDOFF = re.compile(r"^(?:(mon|tue|wed|thu|fri|sat|sun)\w*\s+)?(\d{1,2}):(\d{2})$", re.I)
EPOCH = date(2020, 1, 6)  # a Monday


@dataclass(frozen=True)
class Shift:
    """`user` is on call from `start` (inclusive) to `end` (exclusive); `source` says where
    the shift comes from (rotation, override, calendar)."""

    user: str
    start: datetime
    end: datetime
    source: str = "rotation"


class Rotation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    users: list[str] = Field(min_length=1)
    shift: Duration = timedelta(weeks=1)
    handoff: str = "09:00"
    start: date | None = None

    @field_validator("handoff")
    @classmethod
    def _handoff(cls, value: str) -> str:
        match = _HANDOFF.match(value.strip())
        if match is None or int(match[2]) > 23 or int(match[3]) > 59:
            raise ValueError(f"{value!r} is not a hand-off time like 09:00 or mon 09:00")
        return value.strip()

    @field_validator("shift")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value < timedelta(minutes=5):
            raise ValueError("a shift lasts at least 5 minutes")
        return value

    def anchor(self, tz: str) -> datetime:
        """The first user's first hand-off, as local wall time (naive)."""
        match = _HANDOFF.match(self.handoff)
        assert match is not None
        day = self.start or EPOCH
        if match[1]:
            wanted = WEEKDAYS.index(match[1][:3].lower())
            day += timedelta(days=(wanted - day.weekday()) % 7)
        return datetime.combine(day, time(int(match[2]), int(match[3])))

    def shifts(self, tz: str, since: datetime, until: datetime) -> list[Shift]:
        """The rotation's shifts that overlap [since, until)."""
        zone_info = zone(tz)
        anchor = self.anchor(tz)

        def at(index: int) -> datetime:
            # Wall-clock arithmetic: whole-day shifts keep their local hand-off time.
            return (anchor + self.shift * index).replace(tzinfo=zone_info)

        local_since = since.astimezone(zone_info).replace(tzinfo=None)
        index = max(int((local_since - anchor) / self.shift) - 1, 0)
        found: list[Shift] = []
        while at(index) < until:
            start, end = at(index), at(index + 1)
            if end > since:
                user = self.users[index % len(self.users)]
                found.append(Shift(user, start, end))
            index += 1
        return found


class Override(BaseModel):
    """`user` takes the schedule from `start` to `end` (local time of the schedule unless
    the times carry an offset)."""

    model_config = ConfigDict(extra="forbid")

    user: str
    start: datetime
    end: datetime

    @model_validator(mode="after")
    def _span(self) -> Override:
        if self.end.replace(tzinfo=None) <= self.start.replace(tzinfo=None):
            raise ValueError(f"an override for {self.user} must end after it starts")
        return self


class ScheduleConfig(BaseModel):
    """One schedule: a `rotation` or a `calendar` (an https URL or a file path relative
    to the config file), the zone its times are in, and overrides. `project`: the one
    project whose people see it with `oncall`; none: every project's."""

    model_config = ConfigDict(extra="forbid")

    timezone: str = "UTC"
    project: str | None = Field(default=None, min_length=1, max_length=64)
    rotation: Rotation | None = None
    calendar: str | None = None
    overrides: list[Override] = Field(default_factory=list)
    refresh_minutes: float = Field(default=15, gt=0, le=24 * 60)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        zone(value)
        return value

    @model_validator(mode="after")
    def _one_source(self) -> ScheduleConfig:
        if (self.rotation is None) == (self.calendar is None):
            raise ValueError("a schedule has either a `rotation` or a `calendar`")
        return self

    def override_shifts(self) -> list[Shift]:
        tz = zone(self.timezone)
        return [
            Shift(
                item.user,
                item.start if item.start.tzinfo else item.start.replace(tzinfo=tz),
                item.end if item.end.tzinfo else item.end.replace(tzinfo=tz),
                "override",
            )
            for item in self.overrides
        ]


class OncallConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    schedules: dict[str, ScheduleConfig] = Field(default_factory=dict)


def layered(base: Sequence[Shift], overrides: Sequence[Shift]) -> list[Shift]:
    """The shifts with overrides laid over them (an override wins where they overlap; the
    later override wins among overrides), sorted by start."""
    result = sorted(base, key=lambda shift: shift.start)
    for top in overrides:
        cut: list[Shift] = []
        for shift in result:
            if shift.end <= top.start or shift.start >= top.end:
                cut.append(shift)
                continue
            if shift.start < top.start:
                cut.append(replace(shift, end=top.start))
            if shift.end > top.end:
                cut.append(replace(shift, start=top.end))
        cut.append(top)
        result = sorted(cut, key=lambda shift: shift.start)
    return result


@dataclass(frozen=True)
class OnCall:
    """Who is on call at a moment, and who takes over next (None where nobody is)."""

    schedule: str
    now: Shift | None
    next: Shift | None


def on_call(schedule: str, shifts: Sequence[Shift], at: datetime) -> OnCall:
    """Who holds `shifts` at `at`, and the next different shift after theirs."""
    ordered = sorted(shifts, key=lambda shift: shift.start)
    current = next((s for s in ordered if s.start <= at < s.end), None)
    after = current.end if current is not None else at
    upcoming = next(
        (s for s in ordered if s.start >= after and (current is None or s.user != current.user)),
        None,
    )
    if current is not None:
        # Back-to-back shifts of the same person are one stretch on call.
        for shift in ordered:
            if shift.start == current.end and shift.user == current.user:
                current = replace(current, end=shift.end)
    return OnCall(schedule, current, upcoming)


def window(at: datetime) -> tuple[datetime, datetime]:
    """The span of shifts worth computing around `at`: a day back, five weeks ahead."""
    return at - timedelta(days=1), at + timedelta(weeks=5)


def describe_shift(shift: Shift, tz: str) -> dict[str, Any]:
    local = zone(tz)
    return {
        "user": shift.user,
        "start": shift.start.astimezone(local),
        "end": shift.end.astimezone(local),
        "source": shift.source,
    }
