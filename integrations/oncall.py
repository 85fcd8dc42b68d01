"""Who is on call: each schedule's rotation or calendar, with its overrides."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import httpx

from core.oncall import OnCall, OncallConfig, ScheduleConfig, Shift, layered, on_call, window
from integrations.oncall_calendar import CalendarError, CalendarFeed, calendar_shifts


class UnknownSchedule(LookupError):
    """No schedule by that name; the message lists the ones there are."""


class OncallDirectory:
    """The configured schedules. `who` raises UnknownSchedule, and CalendarError when a
    calendar schedule's feed was never readable."""

    def __init__(
        self, config: OncallConfig, *, http: httpx.AsyncClient, base: Path | None = None
    ) -> None:
        self.schedules: dict[str, ScheduleConfig] = dict(config.schedules)
        self._feeds = {
            name: CalendarFeed(
                schedule.calendar,
                http=http,
                refresh=timedelta(minutes=schedule.refresh_minutes),
                base=base,
            )
            for name, schedule in self.schedules.items()
            if schedule.calendar
        }

    @property
    def names(self) -> list[str]:
        return sorted(self.schedules)

    def schedule(self, name: str) -> ScheduleConfig:
        found = self.schedules.get(name)
        if found is None:
            known = ", ".join(self.names) or "none are configured"
            raise UnknownSchedule(f"There is no on-call schedule {name!r} ({known}).")
        return found

    async def shifts(self, name: str, *, since: datetime, until: datetime) -> list[Shift]:
        schedule = self.schedule(name)
        if schedule.rotation is not None:
            base = schedule.rotation.shifts(schedule.timezone, since, until)
        else:
            feed = self._feeds[name]
            text = await feed.text(since)
            base = calendar_shifts(text, since=since, until=until, tz=schedule.timezone)
        return layered(base, schedule.override_shifts())

    async def who(self, name: str, at: datetime) -> OnCall:
        since, until = window(at)
        return on_call(name, await self.shifts(name, since=since, until=until), at)

    def problem(self, name: str) -> str | None:
        """Why the schedule's calendar could not be read lately, if it could not."""
        feed = self._feeds.get(name)
        return feed.problem if feed is not None else None


__all__ = ["CalendarError", "OncallDirectory", "UnknownSchedule"]
