"""What chat platforms need remembered: handled request ids, conversation references, and
delivery problems already told to admins."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import Insert, Table, delete, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from storage.delivery import insert_once
from storage.models import ChatNoticeRow, ConversationRefRow, PlatformRequestRow


def record_request(dialect: str, *, platform: str, request_id: str, now: datetime) -> Insert:
    """`INSERT … ON CONFLICT DO NOTHING RETURNING id` of a handled request (PostgreSQL or
    SQLite): a row back means it is the first time; none, that it was recorded before."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table = cast(Table, PlatformRequestRow.__table__)  # Core: no ORM bookkeeping
    return (
        insert(table)
        .values(platform=platform, request_id=request_id, received_at=now)
        .on_conflict_do_nothing(index_elements=["platform", "request_id"])
        .returning(table.c.id)
    )


class PlatformRequestRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def first_time(self, *, platform: str, request_id: str, now: datetime) -> bool:
        """Record the request; False when it was recorded before (a retry or a duplicate).

        The unique key makes this hold across replicas sharing one database: one statement,
        `INSERT … ON CONFLICT DO NOTHING` (PostgreSQL waits there for a concurrent insert of
        the same id to commit or roll back), so no savepoint is needed.
        """
        dialect = self._session.get_bind().dialect.name
        if dialect not in ("postgresql", "sqlite"):
            values = {"platform": platform, "request_id": request_id, "received_at": now}
            return await insert_once(self._session, PlatformRequestRow(**values))
        statement = record_request(dialect, platform=platform, request_id=request_id, now=now)
        return (await self._session.execute(statement)).scalar_one_or_none() is not None

    async def recent(self, *, platform: str, since: datetime) -> list[tuple[str, datetime]]:
        """(request id, received at) of `platform`'s requests received since `since`, oldest
        first."""
        query = (
            select(PlatformRequestRow.request_id, PlatformRequestRow.received_at)
            .where(
                PlatformRequestRow.platform == platform,
                PlatformRequestRow.received_at >= since,
            )
            .order_by(PlatformRequestRow.received_at, PlatformRequestRow.id)
        )
        return [(row[0], row[1]) for row in (await self._session.execute(query)).all()]


class ConversationRefRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def save(
        self,
        *,
        platform: str,
        key: str,
        reference: dict[str, Any],
        now: datetime,
        name: str | None = None,
    ) -> ConversationRefRow:
        row = await self.get(platform=platform, key=key)
        if row is None:
            created = ConversationRefRow(
                platform=platform, key=key, name=name, reference=reference, updated_at=now
            )
            if await insert_once(self._session, created):
                return created
            row = await self.get(platform=platform, key=key)  # saved meanwhile by another
        if row is None:  # pragma: no cover - the unique key said it exists
            raise LookupError(f"conversation {key} on {platform} vanished")
        row.reference = reference
        row.name = name or row.name
        row.updated_at = now
        row.removed_at = None
        row.removed_reason = None
        await self._session.flush()
        return row

    async def mark_removed(self, *, platform: str, key: str, reason: str, now: datetime) -> bool:
        """Lookout may no longer speak in `key` until it is added again (a later `save`).
        True when this is news (the conversation was known and not yet marked)."""
        row = await self.get(platform=platform, key=key)
        if row is None or row.removed_at is not None:
            return False
        row.removed_at = now
        row.removed_reason = reason[:255]
        return True

    async def get(self, *, platform: str, key: str) -> ConversationRefRow | None:
        query = select(ConversationRefRow).where(
            ConversationRefRow.platform == platform, ConversationRefRow.key == key
        )
        return (await self._session.scalars(query)).one_or_none()

    async def find(self, *, platform: str, key_or_name: str) -> ConversationRefRow | None:
        """By key, else by display name (config may name a channel either way)."""
        row = await self.get(platform=platform, key=key_or_name)
        if row is not None:
            return row
        query = (
            select(ConversationRefRow)
            .where(
                ConversationRefRow.platform == platform,
                ConversationRefRow.name == key_or_name.lstrip("#"),
            )
            .order_by(ConversationRefRow.updated_at.desc())
        )
        return (await self._session.scalars(query)).first()

    async def all(self, *, platform: str) -> list[ConversationRefRow]:
        query = select(ConversationRefRow).where(ConversationRefRow.platform == platform)
        return list((await self._session.scalars(query)).all())


class ChatNoticeRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def first_time(
        self, *, platform: str, key: str, channel: str | None, text: str, now: datetime
    ) -> bool:
        """Record a problem told to admins; False when it was told before (on any replica)."""
        row = ChatNoticeRow(
            platform=platform, channel=channel, key=key[:512], text=text, created_at=now
        )
        return await insert_once(self._session, row)

    async def clear(self, *, platform: str, channel: str) -> int:
        """Forget problems of `channel` and app-wide ones: that channel works again."""
        result = await self._session.execute(
            delete(ChatNoticeRow).where(
                ChatNoticeRow.platform == platform,
                or_(ChatNoticeRow.channel == channel, ChatNoticeRow.channel.is_(None)),
            )
        )
        return int(getattr(result, "rowcount", 0) or 0)
