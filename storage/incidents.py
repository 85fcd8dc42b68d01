"""Incidents, their alert membership and their timeline."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Select, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.incident_summary import IncidentSummary
from core.incidents import IncidentStatus
from core.projects import DEFAULT_PROJECT
from core.text import bounded
from storage import locks
from storage.models import (
    AlertRow,
    ChatThreadRow,
    IncidentAlertRow,
    IncidentEpisodeRow,
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
class NewIncident:
    """An incident to create: what its first alert says about it."""

    title: str
    severity: str
    service: str
    first_alert_at: datetime
    project: str = DEFAULT_PROJECT


@dataclass(frozen=True)
class NewEvent:
    incident_id: int
    kind: str
    text: str
    at: datetime
    actor: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


def apply_summary(incident: IncidentRow, summary: IncidentSummary) -> None:
    """Write what the incident's alerts say about it onto its row; a severity a person set
    (`severity_set_by`) stays."""
    incident.title = bounded(summary.title, 500)
    if incident.severity_set_by is None:  # a person's choice outranks the alerts'
        incident.severity = summary.severity.label
    incident.service = bounded(summary.service)
    incident.first_alert_at = summary.first_alert_at
    incident.last_alert_at = summary.last_alert_at
    incident.root_cause = summary.root_cause
    incident.suspect_change = summary.suspect_change


class IncidentRepository:
    """Incidents and their events. A repository `scoped` to some projects reads only their
    incidents: `get` of another project's is None, lists leave them out."""

    def __init__(self, session: AsyncSession, *, projects: frozenset[str] | None = None) -> None:
        self._session = session
        self._projects = projects

    def scoped(self, projects: frozenset[str] | None) -> IncidentRepository:
        """The same unit of work's incidents, seen from `projects` (None: all of them)."""
        return IncidentRepository(self._session, projects=projects)

    @property
    def projects(self) -> frozenset[str] | None:
        return self._projects

    def _visible(self, query: Select[Any]) -> Select[Any]:
        if self._projects is None:
            return query
        return query.where(IncidentRow.project.in_(self._projects))

    async def create(
        self,
        *,
        title: str,
        severity: str,
        service: str,
        first_alert_at: datetime,
        now: datetime,
        project: str = DEFAULT_PROJECT,
    ) -> IncidentRow:
        """A new triggered incident, flushed (its id is known), with its first episode."""
        row = IncidentRow(
            project=project,
            title=bounded(title, 500),
            status=IncidentStatus.TRIGGERED.value,
            severity=severity,
            service=bounded(service),
            first_alert_at=first_alert_at,
            last_alert_at=first_alert_at,
            created_at=now,
            revision=1,
            episode=1,
            opened_at=now,
            episode_started_at=first_alert_at,
        )
        self._session.add(row)
        await self._session.flush()
        self._session.add(
            IncidentEpisodeRow(
                incident_id=row.id,
                number=1,
                opened_at=now,
                started_at=first_alert_at,
                counted=True,
            )
        )
        return row

    async def create_many(self, *, incidents: Sequence[NewIncident], now: datetime) -> list[int]:
        """New triggered incidents with their first episodes, in few statements; their ids
        in the same order."""
        if not incidents:
            return []
        values = [
            {
                "title": bounded(item.title, 500),
                "status": IncidentStatus.TRIGGERED.value,
                "severity": item.severity,
                "service": bounded(item.service),
                "first_alert_at": item.first_alert_at,
                "last_alert_at": item.first_alert_at,
                "created_at": now,
                "revision": 1,
                "episode": 1,
                "opened_at": now,
                "episode_started_at": item.first_alert_at,
                "truncated_alerts": 0,
                "project": item.project,
            }
            for item in incidents
        ]
        if self._session.get_bind().dialect.name == "sqlite":
            # One executemany; SQLite gives its rows consecutive rowids in order, and the
            # caller holds the only writer, so the ids are the last ones after the insert.
            await self._session.execute(insert(IncidentRow), values)
            newest = (
                select(IncidentRow.id, IncidentRow.title)
                .order_by(IncidentRow.id.desc())
                .limit(len(values))
            )
            rows = sorted((await self._session.execute(newest)).all())
            if [title for _, title in rows] != [value["title"] for value in values]:
                raise RuntimeError("another writer interleaved with ingestion's incidents")
            ids = [int(incident_id) for incident_id, _ in rows]
        else:
            returning = insert(IncidentRow).returning(IncidentRow.id, sort_by_parameter_order=True)
            ids = [int(row[0]) for row in await self._session.execute(returning, values)]
        await self._session.execute(
            insert(IncidentEpisodeRow),
            [
                {
                    "incident_id": incident_id,
                    "number": 1,
                    "opened_at": now,
                    "started_at": item.first_alert_at,
                    "counted": True,
                }
                for incident_id, item in zip(ids, incidents, strict=True)
            ],
        )
        return ids

    async def get(self, *, incident_id: int, for_update: bool = False) -> IncidentRow | None:
        query = self._visible(select(IncidentRow).where(IncidentRow.id == incident_id))
        if for_update:
            query = query.with_for_update()
        return (await self._session.scalars(query)).one_or_none()

    async def get_many(self, *, incident_ids: Sequence[int]) -> dict[int, IncidentRow]:
        if not incident_ids:
            return {}
        query = self._visible(select(IncidentRow).where(IncidentRow.id.in_(set(incident_ids))))
        return {row.id: row for row in (await self._session.scalars(query)).all()}

    async def find(
        self,
        *,
        status: StatusFilter = "open",
        service: str | None = None,
        severity: str | None = None,
        limit: int = 50,
    ) -> list[IncidentRow]:
        query = self._visible(select(IncidentRow))
        if status == "open":
            query = query.where(IncidentRow.status != IncidentStatus.RESOLVED.value)
        elif status == "resolved":
            query = query.where(IncidentRow.status == IncidentStatus.RESOLVED.value)
        if service:
            # Any service the incident's alerts name, not only the one it is filed under.
            on_alerts = (
                select(AlertRow.id)
                .where(AlertRow.incident_id == IncidentRow.id, AlertRow.service == service)
                .exists()
            )
            query = query.where((IncidentRow.service == service) | on_alerts)
        if severity:
            query = query.where(IncidentRow.severity == severity)
        query = query.order_by(IncidentRow.id.desc()).limit(limit)
        return list((await self._session.scalars(query)).all())

    async def count_open(self) -> int:
        query = self._visible(
            select(func.count()).where(IncidentRow.status != IncidentStatus.RESOLVED.value)
        )
        return int((await self._session.execute(query)).scalar_one())

    async def merge(
        self,
        *,
        source: int,
        target: int,
        text: str,
        at: datetime,
        now: datetime,
        actor: str = "Lookout",
    ) -> None:
        """Move `source`'s alerts and timeline into `target`; `source` ends resolved, marked
        as merged. `text` says why, in both timelines."""
        for table in (AlertRow, IncidentAlertRow, IncidentEventRow):
            await self._session.execute(
                update(table).where(table.incident_id == source).values(incident_id=target)
            )
        row = await self.get(incident_id=source)
        if row is not None:
            if row.status != IncidentStatus.RESOLVED:
                row.resolved_at = now
                row.resolved_by = actor
                row.resolved_event_at = at
            row.status = IncidentStatus.RESOLVED.value
            row.merged_into = target
            # Its episodes are the target's now: they count there, not here.
            await self._session.execute(
                update(IncidentEpisodeRow)
                .where(IncidentEpisodeRow.incident_id == source)
                .values(counted=False)
            )
            await self._session.execute(
                update(IncidentEpisodeRow)
                .where(
                    IncidentEpisodeRow.incident_id == source,
                    IncidentEpisodeRow.number == row.episode,
                    IncidentEpisodeRow.resolved_at.is_(None),
                )
                .values(resolved_at=now, resolved_by=actor, resolution="merged")
            )
        for incident_id in (target, source):
            await self.add_event(
                incident_id=incident_id,
                kind="merged",
                text=text,
                at=at,
                actor=actor,
                data={"source": source, "target": target},
            )

    async def move_alerts(
        self, *, alert_ids: Sequence[int], source: int, target: int, fingerprints: set[str]
    ) -> None:
        """Move some alerts of `source` (and the timeline events about them) to `target`."""
        if not alert_ids:
            return
        for table, key in ((AlertRow, AlertRow.id), (IncidentAlertRow, IncidentAlertRow.alert_id)):
            await self._session.execute(
                update(table)
                .where(table.incident_id == source, key.in_(list(alert_ids)))
                .values(incident_id=target)
            )
        for event in await self.events(incident_id=source):
            if (event.data or {}).get("fingerprint") in fingerprints:
                event.incident_id = target

    async def created_between(
        self, *, since: datetime, until: datetime, service: str | None = None
    ) -> list[IncidentRow]:
        """Incidents opened in [since, until), merged ones left out (they are counted in the
        incident they joined)."""
        query = self._visible(
            select(IncidentRow).where(
                IncidentRow.created_at >= since,
                IncidentRow.created_at < until,
                IncidentRow.merged_into.is_(None),
            )
        )
        if service:
            query = query.where(IncidentRow.service == service)
        return list((await self._session.scalars(query.order_by(IncidentRow.id))).all())

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

    async def changed_since(
        self, *, platform: str, after: int = 0, limit: int = 200
    ) -> list[IncidentRow]:
        """Incidents (ids above `after`, in id order) whose chat message on `platform` is
        missing or older than their revision."""
        query = (
            select(IncidentRow)
            .outerjoin(
                ChatThreadRow,
                (ChatThreadRow.incident_id == IncidentRow.id)
                & (ChatThreadRow.platform == platform),
            )
            .where(
                IncidentRow.id > after,
                (ChatThreadRow.id.is_(None))
                | (ChatThreadRow.rendered_revision < IncidentRow.revision),
            )
            .order_by(IncidentRow.id)
            .limit(limit)
        )
        return list((await self._session.scalars(query)).all())

    async def take_turn_with_ingestion(self) -> None:
        """Wait for ingestion on every replica (`INGEST_LOCK`, held to the end of this
        transaction; nothing on SQLite, where one unit of work runs at a time)."""
        await locks.hold(self._session, locks.INGEST_LOCK)

    async def open_started_between(
        self, *, since: datetime, until: datetime, limit: int = 200
    ) -> list[IncidentRow]:
        """Open incidents whose first alert is in [since, until], merged ones left out."""
        query = (
            self._visible(select(IncidentRow))
            .where(
                IncidentRow.status != IncidentStatus.RESOLVED.value,
                IncidentRow.merged_into.is_(None),
                IncidentRow.first_alert_at >= since,
                IncidentRow.first_alert_at <= until,
            )
            .order_by(IncidentRow.id)
            .limit(limit)
            .with_for_update()
        )
        return list((await self._session.scalars(query)).all())
