"""Escalations (one per incident episode), the pages outbox, and SLA breaches.

Timers live in `escalations.next_at`; due rows are taken with `FOR UPDATE SKIP LOCKED` on
PostgreSQL (SQLite runs one unit of work at a time), and every page has a unique key, so
however many replicas look, a level is paged once.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.incidents import IncidentStatus
from storage.delivery import insert_once
from storage.models import EscalationRow, IncidentRow, PageRow, SlaBreachRow

RUNNING = ("active", "deferred", "snoozed")
# Past its last level, still waiting for someone to take the incident: its "nobody
# acknowledged" notice may be due, and an acknowledgement still stops it.
UNTAKEN = (*RUNNING, "exhausted")


class EscalationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def unstarted(self, *, limit: int = 100) -> list[IncidentRow]:
        """Open incidents whose current episode has no escalation row yet."""
        query = (
            select(IncidentRow)
            .outerjoin(
                EscalationRow,
                and_(
                    EscalationRow.incident_id == IncidentRow.id,
                    EscalationRow.episode == IncidentRow.episode,
                ),
            )
            .where(
                IncidentRow.status != IncidentStatus.RESOLVED.value,
                IncidentRow.merged_into.is_(None),
                EscalationRow.id.is_(None),
            )
            .order_by(IncidentRow.id)
            .limit(limit)
        )
        return list((await self._session.scalars(query)).all())

    async def start(self, row: EscalationRow) -> bool:
        """Insert the episode's escalation; False when another replica did first."""
        return await insert_once(self._session, row)

    async def due(self, *, now: datetime, limit: int = 50) -> list[EscalationRow]:
        """Untaken escalations whose timer has passed (a level, or the notice after the last
        one), locked for this transaction (rows another replica holds are skipped: it is
        firing them)."""
        query = (
            select(EscalationRow)
            .where(EscalationRow.status.in_(UNTAKEN), EscalationRow.next_at <= now)
            .order_by(EscalationRow.next_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return list((await self._session.scalars(query)).all())

    async def overtaken(self, *, limit: int = 100) -> list[tuple[EscalationRow, IncidentRow]]:
        """Escalations still untaken (running, or past their last level), or with PagerDuty
        still open, whose episode has been acknowledged, resolved, merged or superseded by a
        reopening; locked."""
        query = (
            select(EscalationRow, IncidentRow)
            .join(IncidentRow, IncidentRow.id == EscalationRow.incident_id)
            .where(
                or_(
                    EscalationRow.status.in_(UNTAKEN),
                    EscalationRow.pagerduty.in_(("triggered", "acknowledged")),
                ),
                or_(
                    IncidentRow.status != IncidentStatus.TRIGGERED.value,
                    IncidentRow.episode != EscalationRow.episode,
                ),
            )
            .order_by(EscalationRow.id)
            .limit(limit)
            .with_for_update(of=EscalationRow, skip_locked=True)
        )
        rows = (await self._session.execute(query)).all()
        found = []
        for escalation, incident in rows:
            if escalation.status not in UNTAKEN and not _pagerduty_behind(escalation, incident):
                continue
            found.append((escalation, incident))
        return found

    async def given_back(self, *, limit: int = 100) -> list[tuple[EscalationRow, IncidentRow]]:
        """Escalations stopped by an acknowledgement whose episode is triggered again (the
        acknowledgement was taken back), locked."""
        query = (
            select(EscalationRow, IncidentRow)
            .join(IncidentRow, IncidentRow.id == EscalationRow.incident_id)
            .where(
                EscalationRow.episode == IncidentRow.episode,
                EscalationRow.status == "acknowledged",
                IncidentRow.status == IncidentStatus.TRIGGERED.value,
                IncidentRow.merged_into.is_(None),
            )
            .order_by(EscalationRow.id)
            .limit(limit)
            .with_for_update(of=EscalationRow, skip_locked=True)
        )
        return [(e, i) for e, i in (await self._session.execute(query)).all()]

    async def regraded(self, *, limit: int = 100) -> list[tuple[EscalationRow, IncidentRow]]:
        """Escalations of untaken episodes whose incident's severity has changed since,
        including one that went through its last level: a rise is news worth paging for."""
        query = (
            select(EscalationRow, IncidentRow)
            .join(IncidentRow, IncidentRow.id == EscalationRow.incident_id)
            .where(
                EscalationRow.episode == IncidentRow.episode,
                IncidentRow.status == IncidentStatus.TRIGGERED.value,
                EscalationRow.severity != IncidentRow.severity,
                EscalationRow.status.in_(("active", "deferred", "post", "none", "exhausted")),
            )
            .limit(limit)
            .with_for_update(of=EscalationRow, skip_locked=True)
        )
        return [(e, i) for e, i in (await self._session.execute(query)).all()]

    async def get(self, *, escalation_id: int, lock: bool = False) -> EscalationRow | None:
        query = select(EscalationRow).where(EscalationRow.id == escalation_id)
        if lock:
            query = query.with_for_update()
        return (await self._session.scalars(query)).one_or_none()

    async def of_episode(self, *, incident_id: int, episode: int) -> EscalationRow | None:
        query = select(EscalationRow).where(
            EscalationRow.incident_id == incident_id, EscalationRow.episode == episode
        )
        return (await self._session.scalars(query)).one_or_none()

    async def previous(self, *, incident_id: int, before_episode: int) -> EscalationRow | None:
        """The escalation of the latest episode before `before_episode`."""
        query = (
            select(EscalationRow)
            .where(
                EscalationRow.incident_id == incident_id,
                EscalationRow.episode < before_episode,
            )
            .order_by(EscalationRow.episode.desc())
            .limit(1)
        )
        return (await self._session.scalars(query)).one_or_none()

    async def current(self, *, incidents: Sequence[IncidentRow]) -> dict[int, EscalationRow]:
        """Each incident's escalation for its current episode, where there is one."""
        if not incidents:
            return {}
        wanted = {(incident.id, incident.episode) for incident in incidents}
        query = select(EscalationRow).where(
            EscalationRow.incident_id.in_([incident.id for incident in incidents])
        )
        return {
            row.incident_id: row
            for row in (await self._session.scalars(query)).all()
            if (row.incident_id, row.episode) in wanted
        }

    # --- SLA breaches ---

    async def record_breach(self, row: SlaBreachRow) -> bool:
        """Record a breach once per episode and clock; False when it is known already."""
        return await insert_once(self._session, row)

    async def breaches_of(self, *, incident_ids: Sequence[int]) -> list[SlaBreachRow]:
        if not incident_ids:
            return []
        query = select(SlaBreachRow).where(SlaBreachRow.incident_id.in_(list(incident_ids)))
        return list((await self._session.scalars(query)).all())

    async def breaches_between(
        self, *, since: datetime, until: datetime, projects: Collection[str] | None = None
    ) -> list[SlaBreachRow]:
        """SLA breaches due in [since, until), earliest first; with `projects`, only those
        of their incidents."""
        query = select(SlaBreachRow).where(
            SlaBreachRow.due_at >= since, SlaBreachRow.due_at < until
        )
        if projects is not None:
            query = query.join(IncidentRow, IncidentRow.id == SlaBreachRow.incident_id).where(
                IncidentRow.project.in_(list(projects))
            )
        query = query.order_by(SlaBreachRow.due_at)
        return list((await self._session.scalars(query)).all())


def _pagerduty_behind(escalation: EscalationRow, incident: IncidentRow) -> bool:
    """PagerDuty was told of this episode and not yet of how it ended."""
    if escalation.pagerduty not in ("triggered", "acknowledged"):
        return False
    superseded = incident.episode != escalation.episode
    if superseded or incident.status == IncidentStatus.RESOLVED.value:
        return True
    return escalation.pagerduty == "triggered"


class PageRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, row: PageRow) -> bool:
        """Queue a page; False when its key exists (it was queued already)."""
        return await insert_once(self._session, row)

    async def due(self, *, now: datetime, limit: int = 20) -> list[PageRow]:
        """Pending pages whose time has come and that nobody holds, locked."""
        query = (
            select(PageRow)
            .where(
                PageRow.status == "pending",
                PageRow.next_attempt_at <= now,
                or_(PageRow.lease_until.is_(None), PageRow.lease_until < now),
            )
            .order_by(PageRow.next_attempt_at, PageRow.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return list((await self._session.scalars(query)).all())

    async def get(self, *, page_id: int) -> PageRow | None:
        return await self._session.get(PageRow, page_id)

    async def counted_since(self, *, kind: str, since: datetime) -> int:
        """Notifications about incidents of `kind` queued since `since` (folded ones and
        PagerDuty's acknowledge/resolve events are not notifications)."""
        query = select(func.count()).where(
            PageRow.kind == kind,
            PageRow.created_at >= since,
            PageRow.action.in_(("trigger", "breach")),
            PageRow.status.in_(("pending", "sent", "failed")),
        )
        return int((await self._session.execute(query)).scalar_one())

    async def latest_sent(self, *, kind: str, recipient: str, since: datetime) -> PageRow | None:
        """The last page sent to `recipient` about an incident of `kind` since `since`."""
        query = (
            select(PageRow)
            .where(
                PageRow.kind == kind,
                PageRow.recipient == recipient,
                PageRow.status == "sent",
                PageRow.created_at >= since,
            )
            .order_by(PageRow.id.desc())
            .limit(1)
        )
        return (await self._session.scalars(query)).one_or_none()

    async def of_episode(self, *, incident_id: int, episode: int) -> list[PageRow]:
        query = (
            select(PageRow)
            .where(PageRow.incident_id == incident_id, PageRow.episode == episode)
            .order_by(PageRow.id)
        )
        return list((await self._session.scalars(query)).all())

    async def pending_for(self, *, escalation_id: int) -> list[PageRow]:
        query = select(PageRow).where(
            PageRow.escalation_id == escalation_id, PageRow.status == "pending"
        )
        return list((await self._session.scalars(query)).all())
