"""An incident's context posted in its thread unasked, so "Did anyone deploy?" is answered
before anyone asks: for each new incident, once `delay_seconds` after it opened (late
alerts, a change posted a moment late and the first scrapes after the start get there
first), the context `correlate` would give is gathered and — when there is something worth
saying (`skills.incident_context.worth_posting`) — stored with the incident and posted in
its thread as a tracked message. Checked once per incident (a unique row), across replicas
and restarts; Prometheus, Loki and the index are asked with no transaction open."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from bot.background.passes import BackgroundPass
from bot.config import ContextPostRules
from bot.metrics import Metrics
from core.topology import Topology
from knowledge.threads import background_work
from skills.context import SkillTools
from skills.incident_context import gather, observe, snapshot, worth_posting
from storage.database import Database
from storage.models import IncidentRow

log = logging.getLogger(__name__)


class ContextPoster:
    def __init__(
        self,
        database: Database,
        tools: SkillTools,
        *,
        topology: Callable[[], Topology],
        rules: ContextPostRules,
        on_change: Callable[[], None],
        metrics: Metrics,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._database = database
        self._tools = tools
        self._topology = topology
        self._rules = rules
        self._on_change = on_change
        self._clock = clock
        # Woken as incidents change; the timer catches incidents once their delay is over.
        interval = min(max(rules.delay_seconds / 2, 1.0), 15.0)
        self._background = BackgroundPass(
            "context-posts", self.run_once, interval=interval, debounce=0.5, metrics=metrics
        )

    def wake(self) -> None:
        self._background.wake()

    def start(self) -> None:
        self._background.start()

    async def stop(self) -> None:
        await self._background.stop()

    async def run_once(self) -> list[int]:
        """Check every new incident whose delay is over; returns those posted to."""
        now = self._clock()
        async with self._database.unit_of_work() as uow:
            incidents = await uow.contexts.unchecked(
                opened_since=now - timedelta(minutes=self._rules.max_age_minutes),
                opened_before=now - timedelta(seconds=self._rules.delay_seconds),
            )
        with background_work():  # precedents are looked up behind people's queries
            posted = [incident.id for incident in incidents if await self._check(incident, now)]
        if posted:
            log.info("posted incidents' context", extra={"incidents": posted})
            self._on_change()
        return posted

    async def _check(self, incident: IncidentRow, now: datetime) -> bool:
        # Posted in the incident's thread: only its own project's changes and precedents.
        scope = frozenset({incident.project}) if self._tools.projects.configured else None
        async with self._database.unit_of_work() as uow:
            inputs = await gather(
                uow,
                uow.changes.scoped(scope),
                incident,
                topology=self._topology(),
                knowledge=self._tools.knowledge,
                projects=scope,
            )
        live = await observe(inputs, self._tools, now=now)  # no transaction open
        found = snapshot(inputs, live, now=now)
        reasons = worth_posting(found)
        async with self._database.unit_of_work() as uow:
            stored = await uow.contexts.checked(
                incident_id=incident.id,
                snapshot=found if reasons else None,
                reasons=reasons,
                now=now,
            )
        return stored and bool(reasons)
