"""Recording change events, and what a new one says about incidents already open.

Changes usually arrive before the alerts they cause, and ingestion weighs them then. A change
that arrives late (a deploy reported when it finished, a re-delivery) is weighed against the
open incidents whose first alert came after it, within the correlation window: those whose
suspect change or root cause moves are re-derived, noted in their timeline and re-rendered.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from core.changes import ChangeEvent
from core.incidents import display_id
from core.projects import Projects
from core.topology import Topology
from storage.changes import Recorded
from storage.database import Database
from storage.summaries import reweigh_for_change

log = logging.getLogger(__name__)


@dataclass
class ChangeResult:
    recorded: Recorded
    changed_incidents: set[int] = field(default_factory=set)


class ChangeRecorder:
    def __init__(
        self,
        database: Database,
        *,
        topology: Callable[[], Topology] = Topology,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        projects: Callable[[], Projects] = Projects,
    ) -> None:
        self._database = database
        self._topology = topology
        self._clock = clock
        self._projects = projects

    async def record(self, event: ChangeEvent) -> ChangeResult:
        """Store `event` in its project (`Projects.of_change`; committed when this returns)
        and re-weigh the open incidents it may explain."""
        now = self._clock()
        project = self._projects().of_change(event.labels, event.services)
        async with self._database.unit_of_work() as uow:
            recorded = await uow.changes.record(event=event, now=now, project=project)
            result = ChangeResult(recorded)
            if recorded.outcome == "unchanged":
                return result
            moved = await reweigh_for_change(
                recorded.event,
                self._topology(),
                incidents=uow.incidents,
                changes=uow.changes,
                alerts=uow.alerts,
                now=now,
            )
            for incident in moved:
                incident.revision += 1
                result.changed_incidents.add(incident.id)
                log.info(
                    "a change moved an incident's suspect or root cause",
                    extra={"incident": display_id(incident.id), "change": event.id},
                )
        return result
