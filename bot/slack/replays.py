"""Refusing a correctly signed Slack request that arrives a second time (a replay).

Slack signs `v0:<timestamp>:<body>`, and a timestamp more than five minutes from now is
refused by the signature check itself (Slack's "Verifying requests from Slack"), so a
signature need only be remembered while its timestamp is still accepted: `KEEP`, from when it
was first seen.

Every process keeps the signatures it saw in memory and checks them first: a replay to the
same process is refused before it is acknowledged. The record that outlives the process, and
that other replicas see, is a row in the database (`platform_requests`, platform
`slack-signature`), written just after the signature is seen, while Bolt parses and
acknowledges the request; the database's answer is awaited by what the request runs, not by
Slack's acknowledgement:

* on PostgreSQL (where replicas run) one `INSERT … ON CONFLICT DO NOTHING` in autocommit, on
  a pool of its own (`Database.autocommit`): a replay sent to another replica is acknowledged
  there (as Slack's own retries are) and runs nothing, because the row was already there — or
  because a concurrent insert of the same signature committed first;
* on SQLite (one process by design) the memory is authoritative and the row only outlives a
  restart: the last `KEEP` of records are read back at start, so a replay after a restart is
  refused too; only a request whose process died in the moment between acknowledging it and
  writing it is forgotten.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from storage.database import Database
from storage.platform import record_request

log = logging.getLogger(__name__)

PLATFORM = "slack-signature"
# A timestamp is accepted within five minutes either side of now: ten minutes at most.
KEEP = timedelta(minutes=10)


class ReplayGuard:
    """`claim(signature)` is None for a signature this process saw before (refuse it now);
    otherwise it remembers the signature and returns what the database says: an awaitable
    that is False when the signature was recorded before (by another replica, or by an earlier
    process on the same database). `start()` reads back recent records on SQLite; `stop()`
    waits for the records still being written."""

    def __init__(
        self, database: Database, *, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self._database = database
        self._clock = clock
        self._seen: dict[str, datetime] = {}
        self._writes: set[asyncio.Task[bool]] = set()

    async def start(self) -> None:
        if not self._database.is_sqlite:
            return
        now = self._clock()
        async with self._database.reading() as uow:
            recent = await uow.requests.recent(platform=PLATFORM, since=now - KEEP)
        for signature, at in recent:
            self._seen.setdefault(signature, at)

    async def stop(self) -> None:
        if self._writes:
            await asyncio.gather(*self._writes, return_exceptions=True)

    def claim(self, signature: str) -> Awaitable[bool] | None:
        now = self._clock()
        self._forget(now)
        key = signature[:255]
        if key in self._seen:
            return None
        self._seen[key] = now
        task = asyncio.create_task(self._record(key, now), name="lookout-slack-signature")
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)
        if self._database.is_sqlite:
            granted: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
            granted.set_result(True)
            return granted
        return task

    async def _record(self, key: str, now: datetime) -> bool:
        """Whether the database had not seen `key`; True when it could not be asked (the
        request then runs, and what it runs meets the same trouble and says so)."""
        dialect = "sqlite" if self._database.is_sqlite else "postgresql"
        statement = record_request(dialect, platform=PLATFORM, request_id=key, now=now)
        try:
            return await self._database.autocommit(statement) is not None
        except Exception:
            log.exception("could not record a Slack request's signature")
            return True

    def _forget(self, now: datetime) -> None:
        """Drop signatures whose timestamps the signature check refuses by now (they are in
        the order they were first seen, so the expired ones are at the front)."""
        cutoff = now - KEEP
        while self._seen:
            key, at = next(iter(self._seen.items()))
            if at >= cutoff:
                return
            del self._seen[key]
