"""Messages of the local console platform."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import ConsoleMessageRow


class ConsoleMessageRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(
        self,
        *,
        channel: str,
        author: str,
        author_kind: str,
        body: dict[str, Any],
        now: datetime,
        thread_id: int | None = None,
        incident_id: int | None = None,
    ) -> ConsoleMessageRow:
        row = ConsoleMessageRow(
            channel=channel,
            thread_id=thread_id,
            author=author,
            author_kind=author_kind,
            incident_id=incident_id,
            body=body,
            created_at=now,
            updated_at=now,
        )
        self._session.add(row)
        await self._session.flush()
        return row

    async def get(self, *, message_id: int) -> ConsoleMessageRow | None:
        return await self._session.get(ConsoleMessageRow, message_id)

    async def replace_body(
        self, *, message_id: int, body: dict[str, Any], now: datetime
    ) -> ConsoleMessageRow | None:
        row = await self.get(message_id=message_id)
        if row is not None:
            row.body = body
            row.updated_at = now
        return row

    async def in_channel(
        self, *, channel: str, thread_id: int | None = None, limit: int = 200
    ) -> list[ConsoleMessageRow]:
        """Root messages of a channel, or the replies of one thread; oldest first."""
        query = select(ConsoleMessageRow).where(ConsoleMessageRow.channel == channel)
        if thread_id is None:
            query = query.where(ConsoleMessageRow.thread_id.is_(None))
        else:
            query = query.where(ConsoleMessageRow.thread_id == thread_id)
        query = query.order_by(ConsoleMessageRow.id.desc()).limit(limit)
        return list(reversed((await self._session.scalars(query)).all()))

    async def reply_counts(self, *, message_ids: list[int]) -> dict[int, int]:
        if not message_ids:
            return {}
        query = (
            select(ConsoleMessageRow.thread_id, func.count())
            .where(ConsoleMessageRow.thread_id.in_(message_ids))
            .group_by(ConsoleMessageRow.thread_id)
        )
        return {int(tid): int(n) for tid, n in (await self._session.execute(query)).all() if tid}

    async def roots_since(self, *, channel: str, since: datetime) -> list[ConsoleMessageRow]:
        """Lookout's root messages in `channel` created at or after `since`, newest first."""
        query = (
            select(ConsoleMessageRow)
            .where(
                ConsoleMessageRow.channel == channel,
                ConsoleMessageRow.thread_id.is_(None),
                ConsoleMessageRow.author_kind == "bot",
                ConsoleMessageRow.created_at >= since,
            )
            .order_by(ConsoleMessageRow.id.desc())
            .limit(500)
        )
        return list((await self._session.scalars(query)).all())

    async def channels(self) -> list[str]:
        query = select(ConsoleMessageRow.channel).distinct()
        return sorted((await self._session.scalars(query)).all())
