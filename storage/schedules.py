"""Scheduled runs: one row per (job, scheduled time), claimed by the first replica to insert
it; reports keep their answer here until the notifier has posted it on every platform."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import String, cast, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.delivery import insert_once
from storage.models import ChatMessageRow, ScheduledRunRow

REPORT_MESSAGE = "report"
# A report not posted within this long (a platform down all day, or added later) is dropped.
POST_WITHIN = timedelta(days=1)


class ScheduledRunRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def claim(
        self,
        *,
        job: str,
        scheduled_for: datetime,
        now: datetime,
        channel: str | None = None,
        channels: dict[str, str] | None = None,
    ) -> ScheduledRunRow | None:
        """The run's row when this caller is the first to take it; None when another
        replica (or an earlier attempt) already has."""
        row = ScheduledRunRow(
            job=job,
            scheduled_for=scheduled_for,
            claimed_at=now,
            channel=channel,
            channels=dict(channels) if channels else None,
            revision=1,
        )
        return row if await insert_once(self._session, row) else None

    async def get(self, *, run_id: int) -> ScheduledRunRow | None:
        return await self._session.get(ScheduledRunRow, run_id)

    async def finish(
        self,
        *,
        run_id: int,
        outcome: str,
        now: datetime,
        detail: str | None = None,
        reply: dict[str, Any] | None = None,
    ) -> None:
        row = await self.get(run_id=run_id)
        if row is None:
            return
        row.outcome = outcome
        row.finished_at = now
        row.detail = detail[:4000] if detail else None
        if reply is not None:
            row.reply = reply
            row.revision += 1

    async def last_runs(self, *, jobs: list[str]) -> dict[str, ScheduledRunRow]:
        """The latest run of each job, by scheduled time."""
        found: dict[str, ScheduledRunRow] = {}
        if not jobs:
            return found
        query = (
            select(ScheduledRunRow)
            .where(ScheduledRunRow.job.in_(jobs))
            .order_by(ScheduledRunRow.scheduled_for)
        )
        for row in (await self._session.scalars(query)).all():
            found[row.job] = row
        return found

    async def runs_of(self, *, job: str) -> list[ScheduledRunRow]:
        query = (
            select(ScheduledRunRow)
            .where(ScheduledRunRow.job == job)
            .order_by(ScheduledRunRow.scheduled_for)
        )
        return list((await self._session.scalars(query)).all())

    async def reports_behind(
        self, *, platform: str, now: datetime, limit: int = 20
    ) -> list[ScheduledRunRow]:
        """Reports with an answer whose message on `platform` is missing or out of date."""
        query = (
            select(ScheduledRunRow)
            .outerjoin(
                ChatMessageRow,
                (ChatMessageRow.kind == REPORT_MESSAGE)
                & (ChatMessageRow.key == cast(ScheduledRunRow.id, String))
                & (ChatMessageRow.platform == platform),
            )
            .where(
                ScheduledRunRow.reply.is_not(None),
                ScheduledRunRow.claimed_at >= now - POST_WITHIN,
                (ChatMessageRow.id.is_(None))
                | (ChatMessageRow.rendered_revision < ScheduledRunRow.revision),
            )
            .order_by(ScheduledRunRow.id)
            .limit(limit)
        )
        return list((await self._session.scalars(query)).all())

    async def prune(self, *, jobs: list[str], before: datetime) -> int:
        """Forget runs of `jobs` claimed before `before` (frequent evaluations pile up)."""
        if not jobs:
            return 0
        result = await self._session.execute(
            delete(ScheduledRunRow).where(
                ScheduledRunRow.job.in_(jobs), ScheduledRunRow.claimed_at < before
            )
        )
        return int(getattr(result, "rowcount", 0) or 0)
