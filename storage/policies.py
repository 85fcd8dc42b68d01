"""Policy firings: which rule fired on which incident episode, and the line each posts in
the incident's thread (a tracked message, keyed by firing id)."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import String, cast, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.delivery import insert_once
from storage.models import ChatMessageRow, ChatThreadRow, IncidentRow, PolicyFiringRow

POLICY_MESSAGE = "policy"  # `chat_messages.kind` of the posts, keyed by firing id


class PolicyFiringRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def fire(
        self,
        *,
        incident_id: int,
        episode: int,
        rule: str,
        project: str,
        action: str,
        detail: dict[str, Any],
        message: str,
        now: datetime,
    ) -> PolicyFiringRow | None:
        """Record that `rule` fired on the incident's `episode`; None when it fired already
        (another replica, a retry): then nothing is stored and nothing must be done."""
        row = PolicyFiringRow(
            incident_id=incident_id,
            episode=episode,
            rule=rule[:64],
            project=project,
            action=action[:64],
            detail=detail,
            message=message,
            revision=1,
            fired_at=now,
        )
        return row if await insert_once(self._session, row) else None

    async def fired(self, *, incident_id: int, episode: int) -> frozenset[str]:
        """The rules that fired on the incident's `episode`."""
        query = select(PolicyFiringRow.rule).where(
            PolicyFiringRow.incident_id == incident_id, PolicyFiringRow.episode == episode
        )
        return frozenset((await self._session.scalars(query)).all())

    async def of_incident(self, *, incident_id: int) -> list[PolicyFiringRow]:
        query = (
            select(PolicyFiringRow)
            .where(PolicyFiringRow.incident_id == incident_id)
            .order_by(PolicyFiringRow.id)
        )
        return list((await self._session.scalars(query)).all())

    async def candidates(
        self, *, projects: Collection[str], resolved_since: datetime, limit: int = 500
    ) -> list[IncidentRow]:
        """Incidents of `projects` a rule may act on: open ones, and those resolved since
        `resolved_since`; never merged ones. Oldest first."""
        query = (
            select(IncidentRow)
            .where(
                IncidentRow.project.in_(list(projects)),
                IncidentRow.merged_into.is_(None),
                or_(IncidentRow.status != "resolved", IncidentRow.resolved_at >= resolved_since),
            )
            .order_by(IncidentRow.id)
            .limit(limit)
        )
        return list((await self._session.scalars(query)).all())

    async def posts_behind(self, *, platform: str, limit: int = 50) -> list[PolicyFiringRow]:
        """Firings whose line on `platform` is missing or old, for incidents whose root
        message is posted there (the line goes in its thread)."""
        query = (
            select(PolicyFiringRow)
            .join(
                ChatThreadRow,
                (ChatThreadRow.incident_id == PolicyFiringRow.incident_id)
                & (ChatThreadRow.platform == platform)
                & ChatThreadRow.message_id.is_not(None),
            )
            .outerjoin(
                ChatMessageRow,
                (ChatMessageRow.kind == POLICY_MESSAGE)
                & (ChatMessageRow.key == cast(PolicyFiringRow.id, String))
                & (ChatMessageRow.platform == platform),
            )
            .where(
                (ChatMessageRow.id.is_(None))
                | (ChatMessageRow.rendered_revision < PolicyFiringRow.revision)
            )
            .order_by(PolicyFiringRow.id)
            .limit(limit)
        )
        return list((await self._session.scalars(query)).all())
