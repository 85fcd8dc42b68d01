"""Handled platform request ids: a retried delivery is known, once, across replicas."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select, text

from storage.database import Database, is_deadlock
from storage.models import PlatformRequestRow
from storage.platform import record_request

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


async def test_a_recorded_signature_commits_alone_and_survives_a_dropped_connection(
    database: Database,
) -> None:
    """`Database.autocommit`: one statement committed as it runs (the signature record taken
    before Slack's acknowledgement); a connection the server dropped is replaced once."""
    dialect = database.engine.dialect.name
    record = record_request(dialect, platform="slack-signature", request_id="v0=a", now=NOW)
    assert await database.autocommit(record) is not None
    assert await database.autocommit(record) is None  # seen before, on any replica
    async with database.reading() as uow:
        assert not await uow.requests.first_time(
            platform="slack-signature", request_id="v0=a", now=NOW
        )
    if dialect != "postgresql":
        return
    async with database.engine.connect() as admin:
        await admin.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )
    again = record_request(dialect, platform="slack-signature", request_id="v0=b", now=NOW)
    assert await database.autocommit(again) is not None


async def test_a_deadlock_is_told_apart_from_other_errors(database: Database) -> None:
    """Two transactions taking two rows in opposite orders: PostgreSQL fails one of them
    (SQLSTATE 40P01), which `is_deadlock` recognises so that the writer runs it again."""
    if database.engine.dialect.name != "postgresql":
        pytest.skip("SQLite runs one writer at a time: it has no deadlocks")
    async with database.engine.begin() as connection:
        await connection.execute(text("CREATE TABLE pair (id int PRIMARY KEY, n int)"))
        await connection.execute(text("INSERT INTO pair VALUES (1, 0), (2, 0)"))
    both_first = asyncio.Barrier(2)

    async def take(first: int, second: int) -> None:
        async with database.engine.begin() as connection:
            await connection.execute(text(f"UPDATE pair SET n = n + 1 WHERE id = {first}"))
            await both_first.wait()
            await connection.execute(text(f"UPDATE pair SET n = n + 1 WHERE id = {second}"))

    outcomes = await asyncio.gather(take(1, 2), take(2, 1), return_exceptions=True)
    failed = [o for o in outcomes if isinstance(o, BaseException)]
    assert len(failed) == 1 and is_deadlock(failed[0])
    try:
        async with database.engine.begin() as connection:
            await connection.execute(text("INSERT INTO pair VALUES (1, 0)"))
    except Exception as error:
        assert not is_deadlock(error)  # a duplicate key is not run again
    else:
        raise AssertionError("the duplicate key was accepted")
