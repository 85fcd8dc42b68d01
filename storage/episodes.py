"""Incident episodes: each opening of an incident, with its own acknowledgement and resolution.

An incident that reopens starts a new episode, so MTTA and MTTR are measured per episode
(from that opening, by Lookout's clock) and an earlier acknowledgement or resolution is
never erased. The incident row mirrors its current episode (`acknowledged_*`, `resolved_*`,
`opened_at`, `episode_started_at`); every change of lifecycle goes through here so that the
two never disagree.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.incidents import IncidentStatus
from storage.models import IncidentEpisodeRow, IncidentRow

Resolution = Literal["manual", "alerts", "merged", "split", "policy"]


@dataclass(frozen=True)
class EpisodeTimes:
    """One episode as response figures see it; times by Lookout's clock."""

    incident_id: int
    number: int
    service: str
    opened_at: datetime
    acknowledged_at: datetime | None
    resolved_at: datetime | None
    resolution: str | None


class EpisodeRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def _current(self, incident: IncidentRow) -> IncidentEpisodeRow:
        query = select(IncidentEpisodeRow).where(
            IncidentEpisodeRow.incident_id == incident.id,
            IncidentEpisodeRow.number == incident.episode,
        )
        row = (await self._session.scalars(query)).one_or_none()
        if row is None:  # an incident created before episodes were kept, or by hand
            row = IncidentEpisodeRow(
                incident_id=incident.id,
                number=incident.episode,
                opened_at=incident.opened_at,
                started_at=incident.episode_started_at,
                counted=True,
            )
            self._session.add(row)
        return row

    async def opened(self, *, incident: IncidentRow) -> None:
        """Record the first episode of a just-created (and flushed) incident."""
        self._session.add(
            IncidentEpisodeRow(
                incident_id=incident.id,
                number=incident.episode,
                opened_at=incident.opened_at,
                started_at=incident.episode_started_at,
                counted=True,
            )
        )

    async def acknowledged(self, *, incident: IncidentRow, by: str, at: datetime) -> None:
        incident.acknowledged_at = at
        incident.acknowledged_by = by
        episode = await self._current(incident)
        episode.acknowledged_at = at
        episode.acknowledged_by = by

    async def unacknowledged(self, *, incident: IncidentRow) -> None:
        incident.acknowledged_at = None
        incident.acknowledged_by = None
        episode = await self._current(incident)
        episode.acknowledged_at = None
        episode.acknowledged_by = None

    async def resolved(
        self,
        *,
        incident: IncidentRow,
        by: str,
        at: datetime,
        resolution: Resolution,
        ended_at: datetime | None = None,
        counted: bool = True,
    ) -> None:
        """The current episode ends at `at` (Lookout's clock); `ended_at` is the end in event
        time (the last alert's endsAt), `at` when not given."""
        incident.status = IncidentStatus.RESOLVED.value
        incident.resolved_at = at
        incident.resolved_by = by
        incident.resolved_event_at = ended_at or at
        episode = await self._current(incident)
        episode.resolved_at = at
        episode.resolved_by = by
        episode.resolution = resolution
        episode.counted = counted

    async def reopened(self, *, incident: IncidentRow, at: datetime, started_at: datetime) -> None:
        """A resolved incident opens again at `at`; `started_at` is the event time of the
        alert that reopened it. Acknowledgement and resolution start over."""
        await self._current(incident)  # the ending episode exists before the next one
        incident.episode += 1
        incident.status = IncidentStatus.TRIGGERED.value
        incident.opened_at = at
        incident.episode_started_at = started_at
        incident.acknowledged_at = None
        incident.acknowledged_by = None
        incident.resolved_at = None
        incident.resolved_by = None
        incident.resolved_event_at = None
        self._session.add(
            IncidentEpisodeRow(
                incident_id=incident.id,
                number=incident.episode,
                opened_at=at,
                started_at=started_at,
                counted=True,
            )
        )

    async def of_incident(self, *, incident_id: int) -> list[IncidentEpisodeRow]:
        query = (
            select(IncidentEpisodeRow)
            .where(IncidentEpisodeRow.incident_id == incident_id)
            .order_by(IncidentEpisodeRow.number)
        )
        return list((await self._session.scalars(query)).all())

    async def opened_between(
        self,
        *,
        since: datetime,
        until: datetime,
        services: Sequence[str] = (),
        projects: Collection[str] | None = None,
    ) -> list[EpisodeTimes]:
        """Counted episodes opened in [since, until), with their incident's service; only
        incidents of `services` when given, and of `projects` when given."""
        query = (
            select(
                IncidentEpisodeRow.incident_id,
                IncidentEpisodeRow.number,
                IncidentRow.service,
                IncidentEpisodeRow.opened_at,
                IncidentEpisodeRow.acknowledged_at,
                IncidentEpisodeRow.resolved_at,
                IncidentEpisodeRow.resolution,
            )
            .join(IncidentRow, IncidentRow.id == IncidentEpisodeRow.incident_id)
            .where(
                IncidentEpisodeRow.opened_at >= since,
                IncidentEpisodeRow.opened_at < until,
                IncidentEpisodeRow.counted.is_(True),
                IncidentRow.merged_into.is_(None),
            )
            .order_by(IncidentEpisodeRow.incident_id, IncidentEpisodeRow.number)
        )
        if services:
            query = query.where(IncidentRow.service.in_(list(services)))
        if projects is not None:
            query = query.where(IncidentRow.project.in_(list(projects)))
        return [EpisodeTimes(*row) for row in (await self._session.execute(query)).all()]
