"""The audit log: who did what, where, and how it ended."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import AuditRow


class AuditRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def record(
        self,
        *,
        at: datetime,
        platform: str,
        user_id: str,
        user_name: str,
        action: str,
        outcome: str,
        target: str | None = None,
        detail: dict[str, Any] | None = None,
        project: str | None = None,
    ) -> None:
        self._session.add(
            AuditRow(
                at=at,
                platform=platform,
                user_id=user_id,
                user_name=user_name,
                action=action,
                target=target,
                detail=detail or {},
                outcome=outcome,
                project=project,
            )
        )

    async def recent(self, *, limit: int = 100, action: str | None = None) -> list[AuditRow]:
        query = select(AuditRow)
        if action:
            query = query.where(AuditRow.action == action)
        query = query.order_by(AuditRow.id.desc()).limit(limit)
        return list((await self._session.scalars(query)).all())
