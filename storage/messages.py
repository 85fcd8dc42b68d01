"""Tracked messages: ones Lookout posts once and then edits in place (a run's progress)."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.delivery import DeliveryRecords, insert_once
from storage.models import ChatMessageRow


class TrackedMessageRepository(DeliveryRecords):
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, *, kind: str, key: str, platform: str) -> ChatMessageRow | None:
        query = select(ChatMessageRow).where(
            ChatMessageRow.kind == kind,
            ChatMessageRow.key == key,
            ChatMessageRow.platform == platform,
        )
        return (await self._session.scalars(query)).one_or_none()

    async def claim(
        self,
        *,
        kind: str,
        key: str,
        platform: str,
        channel: str,
        thread_id: str | None,
        now: datetime,
    ) -> ChatMessageRow | None:
        """Reserve the right to post it; None when someone already has (unique key)."""
        row = ChatMessageRow(
            kind=kind,
            key=key,
            platform=platform,
            channel=channel,
            thread_id=thread_id,
            rendered_revision=0,
            attempts=0,
            created_at=now,
            updated_at=now,
        )
        return row if await insert_once(self._session, row) else None

    async def retry_in(self, *, platform: str, channels: Collection[str]) -> int:
        """Messages given up on in these channels get tried again (Lookout was added back)."""
        result = await self._session.execute(
            update(ChatMessageRow)
            .where(
                ChatMessageRow.platform == platform,
                ChatMessageRow.channel.in_(list(channels)),
                ChatMessageRow.gave_up_revision.is_not(None),
            )
            .values(gave_up_revision=None, attempts=0)
        )
        return int(getattr(result, "rowcount", 0) or 0)
