"""Bookkeeping shared by every message Lookout posts once and then keeps current."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Base


async def insert_once(session: AsyncSession, row: Base) -> bool:
    """Insert `row` unless a unique key says it exists already (another replica, a retry);
    only the savepoint is rolled back then, not the caller's transaction."""
    try:
        async with session.begin_nested():
            session.add(row)
    except IntegrityError:
        return False
    return True


class Delivered(Protocol):
    channel: str
    message_id: str | None
    thread_id: str | None
    rendered_revision: int
    attempts: int
    last_error: str | None
    updated_at: datetime
    degraded: str | None
    gave_up_revision: int | None


class DeliveryRecords:
    """What happened when the message was posted or updated."""

    async def record_posted(
        self,
        *,
        row: Delivered,
        message_id: str,
        thread_id: str,
        revision: int,
        now: datetime,
        channel: str | None = None,
    ) -> None:
        if channel:
            row.channel = channel
        row.message_id = message_id
        row.thread_id = thread_id
        row.rendered_revision = revision
        row.last_error = None
        row.attempts = 0
        row.gave_up_revision = None
        row.updated_at = now

    async def record_rendered(self, *, row: Delivered, revision: int, now: datetime) -> None:
        row.rendered_revision = max(row.rendered_revision, revision)
        row.last_error = None
        row.attempts = 0
        row.gave_up_revision = None
        row.updated_at = now

    async def record_failure(
        self, *, row: Delivered, error: str, now: datetime, give_up_at: int | None = None
    ) -> None:
        """A failed attempt; `give_up_at` (the source's revision) ends the retries."""
        row.attempts += 1
        row.last_error = error[:2000]
        row.updated_at = now
        if give_up_at is not None:
            row.gave_up_revision = give_up_at

    async def record_degraded(self, *, row: Delivered, reason: str, now: datetime) -> None:
        """The platform refused the full message for good: show a compact one from now on."""
        row.degraded = reason[:2000]
        row.updated_at = now

    async def record_message_gone(
        self, *, row: Delivered, thread_id: str | None, now: datetime
    ) -> None:
        """The posted message is gone (deleted): post it anew, in `thread_id` if any."""
        row.message_id = None
        row.thread_id = thread_id
        row.rendered_revision = 0
        row.last_error = None
        row.attempts = 0
        row.updated_at = now

    async def record_waiting(self, *, row: Delivered, reason: str, now: datetime) -> None:
        """Not sent: the platform asked to wait (a rate limit). Not a failure."""
        row.last_error = reason[:2000]
        row.updated_at = now
