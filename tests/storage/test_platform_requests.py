"""Handled platform request ids: a retried delivery is known, once, across replicas."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from sqlalchemy import func, select

from storage.database import Database
from storage.models import PlatformRequestRow

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


async def test_a_request_id_is_new_once_per_platform(database: Database) -> None:
    async with database.unit_of_work() as uow:
        assert await uow.requests.first_time(platform="slack", request_id="t1", now=NOW)
        assert not await uow.requests.first_time(platform="slack", request_id="t1", now=NOW)
        # The transaction goes on after a repeat: nothing was rolled back.
        assert await uow.requests.first_time(platform="teams", request_id="t1", now=NOW)
    async with database.unit_of_work() as uow:
        assert not await uow.requests.first_time(platform="slack", request_id="t1", now=NOW)
        assert not await uow.requests.first_time(platform="teams", request_id="t1", now=NOW)
        count = await uow.session.scalar(select(func.count()).select_from(PlatformRequestRow))
    assert count == 2


async def test_concurrent_deliveries_of_one_request_run_once(database: Database) -> None:
    """Two transactions (two replicas) take the same id at the same time: one wins."""

    async def deliver() -> bool:
        async with database.unit_of_work() as uow:
            first = await uow.requests.first_time(platform="slack", request_id="t2", now=NOW)
            await asyncio.sleep(0.05)  # still open while the other one inserts
            return first

    results = await asyncio.gather(*(deliver() for _ in range(4)))
    assert sorted(results) == [False, False, False, True]


async def test_a_rolled_back_delivery_leaves_the_id_free(database: Database) -> None:
    try:
        async with database.unit_of_work() as uow:
            assert await uow.requests.first_time(platform="slack", request_id="t3", now=NOW)
            raise RuntimeError("the skill failed")
    except RuntimeError:
        pass
    async with database.unit_of_work() as uow:
        assert await uow.requests.first_time(platform="slack", request_id="t3", now=NOW)
