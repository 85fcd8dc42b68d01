"""Correlate snapshots: what Lookout found around an incident, kept with it; and whether a
new incident's context was posted in its thread unasked (once per incident)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String, cast, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.delivery import insert_once
from storage.models import (
    ChatMessageRow,
    ChatThreadRow,
    ContextPostRow,
    IncidentContextRow,
    IncidentRow,
)

CONTEXT_MESSAGE = "context"  # `chat_messages.kind` of the posts, keyed by incident id


class IncidentContextRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(
        self, *, incident_id: int, snapshot: dict[str, Any], requested_by: str, now: datetime
    ) -> IncidentContextRow:
        row = IncidentContextRow(
            incident_id=incident_id, taken_at=now, requested_by=requested_by, snapshot=snapshot
        )
        self._session.add(row)
        await self._session.flush()
        return row

    async def latest(self, *, incident_id: int) -> IncidentContextRow | None:
        query = (
            select(IncidentContextRow)
            .where(IncidentContextRow.incident_id == incident_id)
            .order_by(IncidentContextRow.taken_at.desc(), IncidentContextRow.id.desc())
            .limit(1)
        )
        return (await self._session.scalars(query)).one_or_none()

    async def purge(self, *, before: datetime) -> int:
        """Retention: delete the snapshots taken before `before` (their incidents stay; a
        context post that showed one keeps its chat message but no longer refreshes it);
        how many went."""
        old = select(IncidentContextRow.id).where(IncidentContextRow.taken_at < before)
        await self._session.execute(
            update(ContextPostRow)
            .where(ContextPostRow.context_id.in_(old))
            .values(context_id=None)
            .execution_options(synchronize_session=False)
        )
        result = await self._session.execute(
            delete(IncidentContextRow)
            .where(IncidentContextRow.taken_at < before)
            .execution_options(synchronize_session=False)
        )
        return int(getattr(result, "rowcount", 0) or 0)

    # --- posted unasked in a new incident's thread ---
    async def unchecked(
        self, *, opened_since: datetime, opened_before: datetime, limit: int = 20
    ) -> list[IncidentRow]:
        """Open incidents created in [opened_since, opened_before] whose context was not
        checked yet, oldest first."""
        query = (
            select(IncidentRow)
            .outerjoin(ContextPostRow, ContextPostRow.incident_id == IncidentRow.id)
            .where(
                ContextPostRow.id.is_(None),
                IncidentRow.created_at >= opened_since,
                IncidentRow.created_at <= opened_before,
                IncidentRow.status != "resolved",
                IncidentRow.merged_into.is_(None),
            )
            .order_by(IncidentRow.id)
            .limit(limit)
        )
        return list((await self._session.scalars(query)).all())

    async def checked(
        self,
        *,
        incident_id: int,
        snapshot: dict[str, Any] | None,
        reasons: list[str],
        now: datetime,
    ) -> bool:
        """Record that the incident's context was checked — with the snapshot to post when
        there is one. False when it was checked already (another replica, a retry): then
        nothing is stored."""
        row = ContextPostRow(
            incident_id=incident_id,
            posted=snapshot is not None,
            reasons={"reasons": reasons},
            revision=1,
            created_at=now,
        )
        if not await insert_once(self._session, row):
            return False
        if snapshot is not None:
            context = await self.add(
                incident_id=incident_id, snapshot=snapshot, requested_by="Lookout", now=now
            )
            row.context_id = context.id
        return True

    async def post(self, *, incident_id: int) -> ContextPostRow | None:
        query = select(ContextPostRow).where(ContextPostRow.incident_id == incident_id)
        return (await self._session.scalars(query)).one_or_none()

    async def posts_behind(
        self, *, platform: str, limit: int = 50
    ) -> list[tuple[ContextPostRow, dict[str, Any]]]:
        """Posts (with their snapshots) whose message on `platform` is missing or old, for
        incidents whose root message is posted there (the post goes in its thread)."""
        query = (
            select(ContextPostRow, IncidentContextRow.snapshot)
            .join(IncidentContextRow, IncidentContextRow.id == ContextPostRow.context_id)
            .join(
                ChatThreadRow,
                (ChatThreadRow.incident_id == ContextPostRow.incident_id)
                & (ChatThreadRow.platform == platform)
                & ChatThreadRow.message_id.is_not(None),
            )
            .outerjoin(
                ChatMessageRow,
                (ChatMessageRow.kind == CONTEXT_MESSAGE)
                & (ChatMessageRow.key == cast(ContextPostRow.incident_id, String))
                & (ChatMessageRow.platform == platform),
            )
            .where(
                ContextPostRow.posted.is_(True),
                (ChatMessageRow.id.is_(None))
                | (ChatMessageRow.rendered_revision < ContextPostRow.revision),
            )
            .order_by(ContextPostRow.id)
            .limit(limit)
        )
        return [(row, dict(snapshot)) for row, snapshot in (await self._session.execute(query))]
