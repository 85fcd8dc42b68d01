"""Change events: recorded once per source id, found by time window and service."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.changes import ChangeEvent, ChangeKind, ChangeStatus
from core.projects import DEFAULT_PROJECT
from storage.delivery import insert_once
from storage.models import ChangeRow


@dataclass(frozen=True)
class Recorded:
    """What recording did: `created` (new), `updated` (a later status of a known change) or
    `unchanged` (a re-delivery)."""

    outcome: str
    event: ChangeEvent


def to_event(row: ChangeRow) -> ChangeEvent:
    return ChangeEvent(
        id=row.event_id,
        kind=ChangeKind(row.kind),
        services=tuple(row.services),
        started_at=row.started_at,
        finished_at=row.finished_at,
        status=ChangeStatus(row.status),
        source=row.source,
        environment=row.environment,
        version=row.version,
        previous_version=row.previous_version,
        author=row.author,
        url=row.url,
        description=row.description,
        labels=dict(row.labels or {}),
    )


def _values(event: ChangeEvent) -> dict[str, object]:
    return {
        "kind": event.kind.value,
        "source": event.source,
        "status": event.status.value,
        "services": list(event.services),
        "environment": event.environment,
        "version": event.version,
        "previous_version": event.previous_version,
        "author": event.author,
        "url": event.url,
        "description": event.description,
        "labels": dict(event.labels),
        "started_at": event.started_at,
        "finished_at": event.finished_at,
        "landed_at": event.landed_at,
    }


class ChangeRepository:
    """Change events. A repository `scoped` to some projects reads only their changes."""

    def __init__(self, session: AsyncSession, *, projects: frozenset[str] | None = None) -> None:
        self._session = session
        self._projects = projects

    def scoped(self, projects: frozenset[str] | None) -> ChangeRepository:
        """The same unit of work's changes, seen from `projects` (None: all of them)."""
        return ChangeRepository(self._session, projects=projects)

    async def get(self, *, event_id: str, for_update: bool = False) -> ChangeRow | None:
        """The change recorded under `event_id` (None: unknown, or of a project not seen)."""
        query = select(ChangeRow).where(ChangeRow.event_id == event_id)
        if self._projects is not None:
            query = query.where(ChangeRow.project.in_(self._projects))
        if for_update:
            query = query.with_for_update()
        return (await self._session.scalars(query)).one_or_none()

    async def record(
        self, *, event: ChangeEvent, now: datetime, project: str = DEFAULT_PROJECT
    ) -> Recorded:
        """Store `event` in `project` unless its id is known; a known id takes the newer
        facts (a deploy that finished, a status that failed) and keeps what the update
        leaves out, and its project."""
        everything = self.scoped(None)  # an id is one change whoever records it
        row = await everything.get(event_id=event.id, for_update=True)
        if row is None:
            row = ChangeRow(
                event_id=event.id,
                received_at=now,
                updated_at=now,
                project=project,
                **_values(event),
            )
            if await insert_once(self._session, row):
                return Recorded("created", event)
            row = await everything.get(event_id=event.id, for_update=True)
            assert row is not None  # the unique key said it exists
        merged = _merge(to_event(row), event)
        values = _values(merged)
        if all(getattr(row, key) == value for key, value in values.items()):
            return Recorded("unchanged", merged)
        for key, value in values.items():
            setattr(row, key, value)
        row.updated_at = now
        return Recorded("updated", merged)

    async def projects_of(self, *, event_ids: Iterable[str]) -> dict[str, str]:
        """Each change's project, by its source id (unscoped: the caller says whose)."""
        wanted = set(event_ids)
        if not wanted:
            return {}
        query = select(ChangeRow.event_id, ChangeRow.project).where(ChangeRow.event_id.in_(wanted))
        return {event_id: project for event_id, project in await self._session.execute(query)}

    async def between(
        self,
        *,
        since: datetime,
        until: datetime,
        services: Iterable[str] | None = None,
        limit: int = 500,
    ) -> list[ChangeEvent]:
        """Changes that landed or started in [since, until], newest first; with `services`,
        only those touching one of them; scoped, only those of the projects seen."""
        wanted = set(services) if services is not None else None
        query = select(ChangeRow).where(ChangeRow.landed_at >= since, ChangeRow.started_at <= until)
        if self._projects is not None:
            query = query.where(ChangeRow.project.in_(self._projects))
        query = query.order_by(ChangeRow.landed_at.desc(), ChangeRow.id.desc()).limit(limit)
        events = [to_event(row) for row in (await self._session.scalars(query)).all()]
        if wanted is None:
            return events
        return [event for event in events if wanted.intersection(event.services)]


def _merge(known: ChangeEvent, update: ChangeEvent) -> ChangeEvent:
    """A later message about the same change: its facts win, except where it says nothing."""
    return ChangeEvent(
        id=known.id,
        kind=update.kind,
        services=update.services or known.services,
        started_at=min(known.started_at, update.started_at),
        finished_at=update.finished_at or known.finished_at,
        status=update.status,
        source=update.source,
        environment=update.environment or known.environment,
        version=update.version or known.version,
        previous_version=update.previous_version or known.previous_version,
        author=update.author or known.author,
        url=update.url or known.url,
        description=update.description or known.description,
        labels={**known.labels, **update.labels},
    )
