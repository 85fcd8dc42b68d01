"""What the `schedules` command may know of the scheduler (which lives in the bot)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class ScheduledJob:
    """One job as `schedules` lists it."""

    job_id: str
    what: str  # `slo report`, `SLO burn-rate rules`, …
    when: str  # the trigger in words: `cron 0 9 * * 1-5 (Europe/Berlin)`, `every 1 min`
    channel: str | None
    next_run: datetime | None
    last_run: datetime | None = None
    last_outcome: str | None = None


class ScheduleBook(Protocol):
    async def jobs(self) -> list[ScheduledJob]:
        """Every job, soonest first, with its next run. Must not open a unit of work: the
        caller (a skill) is inside one, and SQLite runs one at a time."""
        ...
