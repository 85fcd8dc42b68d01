"""Read-only units of work: they see what was committed and never wait for the writer."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from storage.database import Database

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


async def test_reading_sees_commits_and_does_not_wait_for_a_writer(database: Database) -> None:
    async with database.unit_of_work() as uow:
        await uow.users.ensure(
            platform="slack", platform_user_id="U1", display_name="Ann", default_role="viewer",
            now=NOW,
        )  # fmt: skip
    writing = asyncio.Event()
    release = asyncio.Event()

    async def writer() -> None:
        async with database.unit_of_work() as uow:
            await uow.users.ensure(
                platform="slack", platform_user_id="U2", display_name="Bo", default_role="viewer",
                now=NOW,
            )  # fmt: skip
            await uow.flush()
            writing.set()
            await release.wait()

    task = asyncio.create_task(writer())
    await writing.wait()
    # The writer's transaction is open (on SQLite it holds the one-writer lock).
    async with asyncio.timeout(5), database.reading() as uow:
        assert await uow.users.get(platform="slack", platform_user_id="U1") is not None
        assert await uow.users.get(platform="slack", platform_user_id="U2") is None
    release.set()
    await task
    async with database.reading() as uow:
        assert await uow.users.get(platform="slack", platform_user_id="U2") is not None


async def test_what_a_reading_unit_changes_is_not_kept(database: Database) -> None:
    async with database.reading() as uow:
        await uow.users.ensure(
            platform="slack", platform_user_id="U3", display_name="Cy", default_role="viewer",
            now=NOW,
        )  # fmt: skip
    async with database.reading() as uow:
        assert await uow.users.get(platform="slack", platform_user_id="U3") is None
