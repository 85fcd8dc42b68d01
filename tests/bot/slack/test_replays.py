"""A signed Slack request seen before is refused: by the process that saw it, by the next
process on the same SQLite file after a restart, and by another replica on PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.slack.replays import ReplayGuard
from storage.database import Database

LONG_AGO = datetime(2000, 1, 1, tzinfo=UTC)


async def test_a_signature_is_refused_the_second_time_here_after_a_restart_and_elsewhere(
    database: Database,
) -> None:
    first = ReplayGuard(database)
    await first.start()
    assert await first.first_time("v0=aaa")
    assert not await first.first_time("v0=aaa")
    assert await first.first_time("v0=bbb")
    await first.stop()  # what was still being written is written

    restarted = ReplayGuard(database)  # the next process, or another replica
    await restarted.start()
    assert not await restarted.first_time("v0=aaa")
    assert not await restarted.first_time("v0=bbb")
    assert await restarted.first_time("v0=ccc")
    await restarted.stop()
    async with database.reading() as uow:
        recorded = await uow.requests.recent(platform="slack-signature", since=LONG_AGO)
    assert [signature for signature, _ in recorded] == ["v0=aaa", "v0=bbb", "v0=ccc"]
