"""A signed Slack request seen before is refused: by the process that saw it, by the next
process on the same SQLite file after a restart, and by another replica on PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.slack.replays import ReplayGuard
from storage.database import Database

LONG_AGO = datetime(2000, 1, 1, tzinfo=UTC)


async def granted(guard: ReplayGuard, signature: str) -> bool:
    """Whether a request with `signature` may run: not refused at once (seen here), and
    not recorded in the database before."""
    claim = guard.claim(signature)
    return claim is not None and await claim


async def test_a_signature_is_refused_the_second_time_here_after_a_restart_and_elsewhere(
    database: Database,
) -> None:
    first = ReplayGuard(database)
    await first.start()
    assert await granted(first, "v0=aaa")
    assert first.claim("v0=aaa") is None  # refused before it is acknowledged
    assert await granted(first, "v0=bbb")
    await first.stop()  # what was still being written is written

    restarted = ReplayGuard(database)  # the next process, or another replica
    await restarted.start()
    assert not await granted(restarted, "v0=aaa")
    assert not await granted(restarted, "v0=bbb")
    assert await granted(restarted, "v0=ccc")
    await restarted.stop()
    async with database.reading() as uow:
        recorded = await uow.requests.recent(platform="slack-signature", since=LONG_AGO)
    assert [signature for signature, _ in recorded] == ["v0=aaa", "v0=bbb", "v0=ccc"]


async def test_concurrent_claims_of_one_signature_on_two_replicas_grant_one(
    database: Database,
) -> None:
    one, two = ReplayGuard(database), ReplayGuard(database)
    await one.start()
    await two.start()
    claims = [one.claim("v0=ddd"), two.claim("v0=ddd")]
    verdicts = [await claim for claim in claims if claim is not None]
    await one.stop()
    await two.stop()
    if database.is_sqlite:  # one process by design: each memory is authoritative
        assert verdicts == [True, True]
    else:
        assert sorted(verdicts) == [False, True]
