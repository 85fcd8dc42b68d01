"""Chat threads: where each incident's one root message lives, per platform."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.delivery import DeliveryRecords, insert_once
from storage.models import ChatThreadRow


class ChatThreadRepository(DeliveryRecords):
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, *, incident_id: int, platform: str) -> ChatThreadRow | None:
        query = select(ChatThreadRow).where(
            ChatThreadRow.incident_id == incident_id, ChatThreadRow.platform == platform
        )
        return (await self._session.scalars(query)).one_or_none()

    async def rows_of(
        self, *, incident_ids: Collection[int], platform: str
    ) -> dict[int, ChatThreadRow]:
        """Incident id → its row on `platform`, whatever its state (claimed, posted, failed);
        one query for a batch instead of one `get` per incident."""
        if not incident_ids:
            return {}
        query = select(ChatThreadRow).where(
            ChatThreadRow.incident_id.in_(list(incident_ids)), ChatThreadRow.platform == platform
        )
        return {row.incident_id: row for row in (await self._session.scalars(query)).all()}

    async def of_incidents(
        self, *, incident_ids: Collection[int], platform: str
    ) -> dict[int, ChatThreadRow]:
        """Incident id → where its root message lives on `platform` (posted ones only)."""
        if not incident_ids:
            return {}
        query = select(ChatThreadRow).where(
            ChatThreadRow.incident_id.in_(list(incident_ids)),
            ChatThreadRow.platform == platform,
            ChatThreadRow.message_id.is_not(None),
        )
        return {row.incident_id: row for row in (await self._session.scalars(query)).all()}

    async def find_by_message(self, *, platform: str, message_id: str) -> ChatThreadRow | None:
        query = select(ChatThreadRow).where(
            ChatThreadRow.platform == platform,
            (ChatThreadRow.message_id == message_id) | (ChatThreadRow.thread_id == message_id),
        )
        return (await self._session.scalars(query)).first()

    async def claim(
        self, *, incident_id: int, platform: str, channel: str, now: datetime
    ) -> ChatThreadRow | None:
        """Reserve the right to post the incident's root message; None if someone already has.

        The unique key (incident_id, platform) makes this safe across replicas.
        """
        row = ChatThreadRow(
            incident_id=incident_id,
            platform=platform,
            channel=channel,
            rendered_revision=0,
            attempts=0,
            created_at=now,
            updated_at=now,
        )
        return row if await insert_once(self._session, row) else None

    async def retry_in(self, *, platform: str, channels: Collection[str]) -> int:
        """Messages given up on in these channels get tried again (Lookout was added back)."""
        result = await self._session.execute(
            update(ChatThreadRow)
            .where(
                ChatThreadRow.platform == platform,
                ChatThreadRow.channel.in_(list(channels)),
                ChatThreadRow.gave_up_revision.is_not(None),
            )
            .values(gave_up_revision=None, attempts=0)
        )
        return int(getattr(result, "rowcount", 0) or 0)
