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

from core.change_correlation import CLOCK_SKEW, WINDOW, ScoredChange
from core.changes import ChangeEvent
from core.incidents import display_id
from core.topology import Topology
from storage.changes import Recorded
from storage.database import Database
from storage.incidents import apply_summary
from storage.summaries import summarize_incidents

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
    ) -> None:
        self._database = database
        self._topology = topology
        self._clock = clock

    async def record(self, event: ChangeEvent) -> ChangeResult:
        """Store `event` (committed when this returns) and re-weigh the open incidents it
        may explain."""
        now = self._clock()
        async with self._database.unit_of_work() as uow:
            recorded = await uow.changes.record(event=event, now=now)
            result = ChangeResult(recorded)
            if recorded.outcome == "unchanged":
                return result
            change = recorded.event
            incidents = await uow.incidents.open_started_between(
                since=change.started_at - CLOCK_SKEW, until=change.landed_at + WINDOW
            )
            if not incidents:
                return result
            briefs = await uow.alerts.briefs(incident_ids=[i.id for i in incidents])
            summaries = await summarize_incidents(
                briefs, self._topology(), changes=uow.changes, alerts=uow.alerts
            )
            for incident in incidents:
                summary = summaries.get(incident.id)
                if summary is None:
                    continue
                before = (incident.suspect_change, incident.root_cause)
                apply_summary(incident, summary)
                if (incident.suspect_change, incident.root_cause) == before:
                    continue
                incident.revision += 1
                result.changed_incidents.add(incident.id)
                if summary.suspect_change is not None:
                    suspect = ScoredChange.from_record(summary.suspect_change)
                    await uow.incidents.add_event(
                        incident_id=incident.id,
                        kind="change",
                        text=f"Suspect change: {suspect.change.summary()} "
                        f"(score {suspect.score:.2f})",
                        at=now,
                        data={"change": suspect.change.id, "score": suspect.score},
                    )
                    log.info(
                        "a change became an incident's suspect",
                        extra={"incident": display_id(incident.id), "change": change.id},
                    )
        return result
