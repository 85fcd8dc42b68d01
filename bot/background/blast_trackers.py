"""The tracker watcher: keeps every live blast-radius tracker true to its incident.

Woken whenever incidents change (ingestion, a command) and on a timer for what only
Prometheus sees, it recomputes each live tracker's snapshot from the incident's alerts, the
alerts firing in open incidents, the health readings and the current topology; a tracker
whose picture moved gets a new revision, and the notifier edits its message in place. Once
the incident resolves, the tracker records its final version and stops.

A pass locks the live trackers' rows until it commits (as the skill locks the one it opens),
so two replicas, or a pass and a question, never bump one tracker twice for one change.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from bot.background.passes import BackgroundPass
from bot.metrics import Metrics
from core.blast_radius import UnknownServiceError
from core.incidents import IncidentStatus
from core.topology import Topology
from integrations.service_health import PrometheusHealth
from skills.services import statuses
from skills.views.blast_tracker import changed, finished, follow
from storage.database import Database

log = logging.getLogger(__name__)

INTERVAL_SECONDS = 30.0


class BlastTrackerWatcher:
    def __init__(
        self,
        database: Database,
        *,
        topology: Callable[[], Topology],
        health: PrometheusHealth | None,
        on_change: Callable[[], None],
        metrics: Metrics,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        interval: float = INTERVAL_SECONDS,
        debounce: float = 0.1,
    ) -> None:
        self._database = database
        self._topology = topology
        self._health = health
        self._on_change = on_change
        self._metrics = metrics
        self._clock = clock
        self._pass_lock = asyncio.Lock()
        self._background = BackgroundPass(
            "blast-trackers", self.refresh, interval=interval, debounce=debounce, metrics=metrics
        )

    def wake(self) -> None:
        self._background.wake()

    def start(self) -> None:
        self._background.start()

    async def stop(self) -> None:
        await self._background.stop()

    async def refresh(self) -> int:
        """One pass over the live trackers; returns how many got a new version."""
        async with self._pass_lock:
            async with self._database.unit_of_work() as uow:
                if not await uow.trackers.live(limit=1):
                    return 0  # nothing to follow: Prometheus is not asked
            # Outside the transaction: Prometheus may take up to its timeout.
            health = await self._health.read() if self._health is not None else None
            topology = self._topology()
            now = self._clock()
            moved = 0
            async with self._database.unit_of_work() as uow:
                trackers = await uow.trackers.live(for_update=True)
                ids = sorted({tracker.incident_id for tracker in trackers})
                incidents = await uow.incidents.get_many(incident_ids=ids)
                briefs = await uow.alerts.briefs(incident_ids=ids)
                alert_statuses = statuses(await uow.alerts.firing_services())
                for tracker in trackers:
                    incident = incidents[tracker.incident_id]
                    try:
                        shown = follow(
                            topology,
                            service=tracker.service,
                            incident=incident,
                            briefs=briefs[incident.id],
                            alert_statuses=alert_statuses,
                            health=health,
                            now=now,
                        )
                    except UnknownServiceError:
                        if incident.status != IncidentStatus.RESOLVED.value:
                            log.warning(
                                "a tracked service left the catalog; keeping its last picture",
                                extra={"tracker": tracker.id, "service": tracker.service},
                            )
                            continue
                        shown = finished(tracker.snapshot, incident, now)
                    final = shown["final"] is not None
                    if final or changed(tracker.snapshot, shown):
                        await uow.trackers.record(
                            row=tracker, snapshot=shown, now=now, live=not final
                        )
                        moved += 1
            if moved:
                self._on_change()
            return moved
