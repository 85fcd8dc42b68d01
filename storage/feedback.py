"""Feedback on suggestions and answers: 👍, 👎 and "This fixed it", per kind of incident."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.delivery import insert_once
from storage.models import FeedbackRow, IncidentRow

Vote = Literal["up", "down", "fixed"]


@dataclass(frozen=True)
class TargetRecord:
    """What people said about one target for one kind of incident."""

    up: int = 0
    down: int = 0
    fixed: int = 0
    # The most recent rating (up, down or fixed) and when: a 👎 that is the latest word hides
    # the suggestion for that kind of incident.
    latest: str | None = None
    latest_at: datetime | None = None

    @property
    def hidden(self) -> bool:
        return self.latest == "down"


@dataclass(frozen=True)
class FeedbackCount:
    target_type: str  # runbook | incident | answer
    vote: str
    count: int


def dedup_key(
    *,
    vote: Vote,
    platform: str,
    user_id: str,
    incident_id: int | None,
    incident_kind: str,
    target: str,
) -> str:
    """One rating per person, incident (or kind, for a free question) and target; one
    "fixed" per incident and target, whoever clicks."""
    where = str(incident_id) if incident_id is not None else f"kind:{incident_kind}"
    if vote == "fixed":
        return f"fixed|{where}|{target}"[:800]
    return f"rating|{platform}|{user_id}|{where}|{target}"[:800]


class FeedbackRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def record(
        self,
        *,
        vote: Vote,
        platform: str,
        user_id: str,
        user_name: str,
        incident_id: int | None,
        incident_kind: str,
        target: str,
        now: datetime,
        detail: dict[str, Any] | None = None,
    ) -> bool:
        """Store a vote; True when it changed something (a new vote, or a changed rating)."""
        key = dedup_key(
            vote=vote,
            platform=platform,
            user_id=user_id,
            incident_id=incident_id,
            incident_kind=incident_kind,
            target=target,
        )
        found = (
            await self._session.scalars(
                select(FeedbackRow).where(FeedbackRow.dedup_key == key).with_for_update()
            )
        ).one_or_none()
        if found is not None:
            if found.vote == vote:
                return False
            found.vote, found.at, found.user_name = vote, now, user_name
            return True
        row = FeedbackRow(
            dedup_key=key,
            at=now,
            platform=platform,
            user_id=user_id,
            user_name=user_name,
            incident_id=incident_id,
            incident_kind=incident_kind,
            target=target,
            vote=vote,
            detail=detail or {},
        )
        return await insert_once(self._session, row)

    async def for_kind(
        self, *, incident_kind: str, targets: Sequence[str] | None = None
    ) -> dict[str, TargetRecord]:
        """Per target: the votes given on incidents of this kind."""
        query = select(FeedbackRow.target, FeedbackRow.vote, FeedbackRow.at).where(
            FeedbackRow.incident_kind == incident_kind
        )
        if targets is not None:
            if not targets:
                return {}
            query = query.where(FeedbackRow.target.in_(list(targets)))
        found: dict[str, TargetRecord] = {}
        for target, vote, at in (await self._session.execute(query)).all():
            old = found.get(target, TargetRecord())
            later = old.latest_at is None or at >= old.latest_at
            found[target] = TargetRecord(
                up=old.up + (vote == "up"),
                down=old.down + (vote == "down"),
                fixed=old.fixed + (vote == "fixed"),
                latest=vote if later else old.latest,
                latest_at=at if later else old.latest_at,
            )
        return found

    async def fixes(self, *, incident_ids: Sequence[int]) -> dict[int, list[str]]:
        """Per incident: the targets someone said fixed it."""
        found: dict[int, list[str]] = {incident_id: [] for incident_id in incident_ids}
        if not incident_ids:
            return found
        query = select(FeedbackRow.incident_id, FeedbackRow.target).where(
            FeedbackRow.incident_id.in_(list(incident_ids)), FeedbackRow.vote == "fixed"
        )
        for incident_id, target in await self._session.execute(query.order_by(FeedbackRow.at)):
            if incident_id is not None:
                found[incident_id].append(target)
        return found

    async def counts(
        self, *, since: datetime | None = None, projects: Collection[str] | None = None
    ) -> list[FeedbackCount]:
        """Votes by target type (the part of the target before ':') since `since`; with
        `projects`, only votes about those projects' incidents or about none."""
        query = select(FeedbackRow.target, FeedbackRow.vote, func.count()).group_by(
            FeedbackRow.target, FeedbackRow.vote
        )
        if since is not None:
            query = query.where(FeedbackRow.at >= since)
        if projects is not None:
            query = query.outerjoin(IncidentRow, IncidentRow.id == FeedbackRow.incident_id).where(
                FeedbackRow.incident_id.is_(None) | IncidentRow.project.in_(list(projects))
            )
        totals: dict[tuple[str, str], int] = {}
        for target, vote, count in (await self._session.execute(query)).all():
            key = (str(target).partition(":")[0], str(vote))
            totals[key] = totals.get(key, 0) + int(count)
        return [FeedbackCount(kind, vote, count) for (kind, vote), count in sorted(totals.items())]

    async def top_fixes(
        self,
        *,
        since: datetime | None = None,
        limit: int = 5,
        projects: Collection[str] | None = None,
    ) -> list[tuple[str, int]]:
        """The targets most often marked "This fixed it"; with `projects`, counting only
        fixes of those projects' incidents."""
        query = (
            select(FeedbackRow.target, func.count())
            .where(FeedbackRow.vote == "fixed")
            .group_by(FeedbackRow.target)
            .order_by(func.count().desc(), FeedbackRow.target)
            .limit(limit)
        )
        if since is not None:
            query = query.where(FeedbackRow.at >= since)
        if projects is not None:
            query = query.join(IncidentRow, IncidentRow.id == FeedbackRow.incident_id).where(
                IncidentRow.project.in_(list(projects))
            )
        return [(str(t), int(n)) for t, n in (await self._session.execute(query)).all()]
