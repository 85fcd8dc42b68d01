"""Blast trackers: live blast-radius messages on incidents, one per (incident, service,
platform), each with the snapshot it last showed and a revision the notifier follows."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String, cast, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.delivery import insert_once
from storage.models import BlastTrackerRow, ChatMessageRow

BLAST_MESSAGE = "blast"


class BlastTrackerRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(
        self, *, incident_id: int, service: str, platform: str, for_update: bool = False
    ) -> BlastTrackerRow | None:
        query = select(BlastTrackerRow).where(
            BlastTrackerRow.incident_id == incident_id,
            BlastTrackerRow.service == service,
            BlastTrackerRow.platform == platform,
        )
        if for_update:
            query = query.with_for_update()
        return (await self._session.scalars(query)).one_or_none()

    async def open(
        self,
        *,
        incident_id: int,
        service: str,
        platform: str,
        channel: str,
        thread_id: str | None,
        requested_by: str,
        snapshot: dict[str, Any],
        now: datetime,
    ) -> tuple[BlastTrackerRow, bool]:
        """The tracker of (incident, service, platform), created with `snapshot` unless it
        exists (asked before, or by another replica a moment ago); True when created. An
        existing one is locked until the commit, like the watcher's (`live`)."""
        found = await self.get(
            incident_id=incident_id, service=service, platform=platform, for_update=True
        )
        if found is not None:
            return found, False
        row = BlastTrackerRow(
            incident_id=incident_id,
            service=service,
            platform=platform,
            channel=channel,
            thread_id=thread_id,
            requested_by=requested_by,
            snapshot=snapshot,
            revision=1,
            live=True,
            created_at=now,
            updated_at=now,
        )
        if await insert_once(self._session, row):
            return row, True
        found = await self.get(
            incident_id=incident_id, service=service, platform=platform, for_update=True
        )
        assert found is not None  # the unique key said it exists
        return found, False

    async def live(self, *, limit: int = 500, for_update: bool = False) -> list[BlastTrackerRow]:
        """Trackers still following their incident, oldest first; `for_update` locks them
        until the commit, so a pass and a skill never both bump one revision."""
        query = (
            select(BlastTrackerRow)
            .where(BlastTrackerRow.live.is_(True))
            .order_by(BlastTrackerRow.id)
            .limit(limit)
        )
        if for_update:
            query = query.with_for_update()
        return list((await self._session.scalars(query)).all())

    async def for_incident(self, *, incident_id: int) -> list[BlastTrackerRow]:
        query = (
            select(BlastTrackerRow)
            .where(BlastTrackerRow.incident_id == incident_id)
            .order_by(BlastTrackerRow.id)
        )
        return list((await self._session.scalars(query)).all())

    async def record(
        self,
        *,
        row: BlastTrackerRow,
        snapshot: dict[str, Any],
        now: datetime,
        live: bool = True,
    ) -> None:
        """A new version to show: stored, and the revision bumped so the message is edited."""
        row.snapshot = snapshot
        row.live = live
        row.revision += 1
        row.updated_at = now

    async def behind(self, *, platform: str, limit: int = 50) -> list[BlastTrackerRow]:
        """Trackers asked on `platform` whose message is missing or out of date."""
        query = (
            select(BlastTrackerRow)
            .outerjoin(
                ChatMessageRow,
                (ChatMessageRow.kind == BLAST_MESSAGE)
                & (ChatMessageRow.key == cast(BlastTrackerRow.id, String))
                & (ChatMessageRow.platform == platform),
            )
            .where(
                BlastTrackerRow.platform == platform,
                (ChatMessageRow.id.is_(None))
                | (ChatMessageRow.rendered_revision < BlastTrackerRow.revision),
            )
            .order_by(BlastTrackerRow.id)
            .limit(limit)
        )
        return list((await self._session.scalars(query)).all())
