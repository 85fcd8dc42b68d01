"""Scheduled runs: the migration matches the models and APScheduler's own job table; one
claim per (job, scheduled time), also under concurrency."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from sqlalchemy import MetaData
from sqlalchemy.engine import Connection

from bot.background.scheduler import JOB_TABLE
from storage.database import Database
from storage.models import Base

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


async def test_the_tables_match_the_models_and_the_job_store(database: Database) -> None:
    store_metadata = MetaData()
    SQLAlchemyJobStore(url="sqlite://", tablename=JOB_TABLE, metadata=store_metadata)

    def differences(connection: Connection) -> list[Any]:
        context = MigrationContext.configure(connection)
        ours = [d for d in compare_metadata(context, Base.metadata) if "scheduled_runs" in repr(d)]
        theirs = [d for d in compare_metadata(context, store_metadata) if JOB_TABLE in repr(d)]
        return ours + theirs

    async with database.engine.connect() as connection:
        assert await connection.run_sync(differences) == []


async def test_one_claim_per_job_and_time(database: Database) -> None:
    async def claim(job: str, at: datetime) -> bool:
        async with database.unit_of_work() as uow:
            return await uow.schedules.claim(job=job, scheduled_for=at, now=T0) is not None

    results = await asyncio.gather(*(claim("report:x", T0) for _ in range(5)))
    assert results.count(True) == 1
    assert await claim("report:x", T0 + timedelta(days=1))
    assert await claim("slo:burn-rates", T0)
    async with database.unit_of_work() as uow:
        assert await uow.schedules.prune(jobs=["slo:burn-rates"], before=T0 + timedelta(1)) == 1
        assert [r.scheduled_for for r in await uow.schedules.runs_of(job="report:x")] == [
            T0,
            T0 + timedelta(days=1),
        ]
