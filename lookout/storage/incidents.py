"""Incidents, their alert membership and their timeline."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from lookout.core.grouping import IncidentSnapshot
from lookout.core.incidents import IncidentStatus
from lookout.storage.models import (
    AlertRow,
    ChatThreadRow,
    IncidentAlertRow,
    IncidentEventRow,
    IncidentRow,
)

StatusFilter = Literal["open", "all", "resolved"]


@dataclass(frozen=True)
class AlertLink:
    incident_id: int
    alert_id: int
    reason: str


@dataclass(frozen=True)
class NewEvent:
    incident_id: int
    kind: str
    text: str
    at: datetime
    actor: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


class IncidentRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def create(
        self,
        *,
        title: str,
        severity: str,
        service: str,
        first_alert_at: datetime,
        now: datetime,
    ) -> IncidentRow:
        row = IncidentRow(
            title=title,
            status=IncidentStatus.TRIGGERED.value,
            severity=severity,
            service=service,
            first_alert_at=first_alert_at,
            last_alert_at=first_alert_at,
            created_at=now,
            revision=1,
        )
        self._session.add(row)
        await self._session.flush()
        return row

    async def get(self, *, incident_id: int, for_update: bool = False) -> IncidentRow | None:
        query = select(IncidentRow).where(IncidentRow.id == incident_id)
        if for_update:
            query = query.with_for_update()
        return (await self._session.scalars(query)).one_or_none()

    async def get_many(self, *, incident_ids: Sequence[int]) -> dict[int, IncidentRow]:
        if not incident_ids:
            return {}
        query = select(IncidentRow).where(IncidentRow.id.in_(set(incident_ids)))
        return {row.id: row for row in (await self._session.scalars(query)).all()}

    async def find(
        self,
        *,
        status: StatusFilter = "open",
        service: str | None = None,
        severity: str | None = None,
        limit: int = 50,
    ) -> list[IncidentRow]:
        query = select(IncidentRow)
        if status == "open":
            query = query.where(IncidentRow.status != IncidentStatus.RESOLVED.value)
        elif status == "resolved":
            query = query.where(IncidentRow.status == IncidentStatus.RESOLVED.value)
        if service:
            query = query.where(IncidentRow.service == service)
        if severity:
            query = query.where(IncidentRow.severity == severity)
        query = query.order_by(IncidentRow.id.desc()).limit(limit)
        return list((await self._session.scalars(query)).all())

    async def count_open(self) -> int:
        query = select(func.count()).where(IncidentRow.status != IncidentStatus.RESOLVED.value)
        return int((await self._session.execute(query)).scalar_one())

    async def grouping_candidates(self, *, fingerprints: Iterable[str]) -> list[IncidentSnapshot]:
        """Open incidents as grouping sees them.

        Only the batch's fingerprints are looked up (identity matches), while group keys and
        services are read as distinct pairs, so the cost follows the number of open incidents,
        not the number of alerts in them.
        """
        open_query = select(
            IncidentRow.id, IncidentRow.first_alert_at, IncidentRow.last_alert_at
        ).where(IncidentRow.status != IncidentStatus.RESOLVED.value)
        snapshots = {
            incident_id: IncidentSnapshot(id=incident_id, first_alert_at=first, last_alert_at=last)
            for incident_id, first, last in (await self._session.execute(open_query)).all()
        }
        if not snapshots:
            return []
        in_open = AlertRow.incident_id.in_(list(snapshots))
        pairs = select(AlertRow.incident_id, AlertRow.group_key, AlertRow.service).where(in_open)
        for incident_id, group_key, service in (
            await self._session.execute(pairs.distinct())
        ).all():
            if incident_id is None:
                continue
            snapshot = snapshots[incident_id]
            if group_key:
                snapshot.group_keys.add(group_key)
            if service:
                snapshot.services.add(service)
        wanted = list(set(fingerprints))
        for start in range(0, len(wanted), 400):
            known = select(AlertRow.incident_id, AlertRow.fingerprint).where(
                in_open, AlertRow.fingerprint.in_(wanted[start : start + 400])
            )
            for incident_id, fingerprint in (await self._session.execute(known)).all():
                if incident_id is not None:
                    snapshots[incident_id].fingerprints.add(fingerprint)
        return list(snapshots.values())

    async def link_alert(
        self, *, incident_id: int, alert_id: int, reason: str, now: datetime
    ) -> None:
        self._session.add(
            IncidentAlertRow(
                incident_id=incident_id, alert_id=alert_id, joined_at=now, reason=reason
            )
        )

    async def link_alerts(self, *, links: Sequence[AlertLink], now: datetime) -> None:
        if links:
            await self._session.execute(
                insert(IncidentAlertRow),
                [
                    {
                        "incident_id": link.incident_id,
                        "alert_id": link.alert_id,
                        "joined_at": now,
                        "reason": link.reason,
                    }
                    for link in links
                ],
            )

    async def add_events(self, *, events: Sequence[NewEvent]) -> None:
        """Insert timeline events in one statement."""
        if events:
            await self._session.execute(
                insert(IncidentEventRow),
                [
                    {
                        "incident_id": e.incident_id,
                        "kind": e.kind,
                        "text": e.text,
                        "at": e.at,
                        "actor": e.actor,
                        "data": e.data,
                    }
                    for e in events
                ],
            )

    async def add_event(
        self,
        *,
        incident_id: int,
        kind: str,
        text: str,
        at: datetime,
        actor: str | None = None,
        data: dict[str, Any] | None = None,
    ) -> IncidentEventRow:
        row = IncidentEventRow(
            incident_id=incident_id, kind=kind, text=text, at=at, actor=actor, data=data or {}
        )
        self._session.add(row)
        return row

    async def events_of_kind(
        self, *, incident_ids: Sequence[int], kind: str
    ) -> dict[int, list[IncidentEventRow]]:
        """Events of one kind (say, "resolved") for many incidents, oldest first."""
        found: dict[int, list[IncidentEventRow]] = {incident_id: [] for incident_id in incident_ids}
        if not incident_ids:
            return found
        query = (
            select(IncidentEventRow)
            .where(
                IncidentEventRow.incident_id.in_(list(incident_ids)),
                IncidentEventRow.kind == kind,
            )
            .order_by(IncidentEventRow.at, IncidentEventRow.id)
        )
        for row in (await self._session.scalars(query)).all():
            found[row.incident_id].append(row)
        return found

    async def events(self, *, incident_id: int) -> list[IncidentEventRow]:
        query = (
            select(IncidentEventRow)
            .where(IncidentEventRow.incident_id == incident_id)
            .order_by(IncidentEventRow.at, IncidentEventRow.id)
        )
        return list((await self._session.scalars(query)).all())

    async def changed_since(self, *, platform: str, limit: int = 200) -> list[IncidentRow]:
        """Incidents whose chat message on `platform` is missing or older than their revision."""
        query = (
            select(IncidentRow)
            .outerjoin(
                ChatThreadRow,
                (ChatThreadRow.incident_id == IncidentRow.id)
                & (ChatThreadRow.platform == platform),
            )
            .where(
                (ChatThreadRow.id.is_(None))
                | (ChatThreadRow.rendered_revision < IncidentRow.revision)
            )
            .order_by(IncidentRow.id)
            .limit(limit)
        )
        return list((await self._session.scalars(query)).all())
