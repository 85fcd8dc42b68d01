"""Correlate snapshots: what Lookout found around an incident, kept with it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import IncidentContextRow


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
