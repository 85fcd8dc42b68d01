"""Alert ingestion: dedup, correlate and store a delivery in one transaction.

The webhook answers 200 only after this commits, and a re-delivery of the same payload finds
every alert already stored (unique fingerprint + startsAt) and changes nothing. Where each new
alert goes is `core.correlation.correlate`'s decision against the incidents the database
summarizes (`uow.grouping.states`); the decisions of a batch are then written in bulk.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from bot.background.placement import Placement
from core.alerts import Alert
from core.correlation import DecisionKind, correlate
from core.grouping_rules import DEFAULT_RULES, GroupingRules
from core.incident_state import IncidentState
from core.incidents import AlertBrief, IncidentStatus, display_id, title_for
from core.inhibition import possible_inhibitors
from core.topology import Topology
from storage.database import Database
from storage.incidents import apply_summary
from storage.models import AlertRow
from storage.summaries import summarize_incidents
from storage.uow import UnitOfWork

log = logging.getLogger(__name__)

# Advisory lock key shared by every replica's ingestion (PostgreSQL); "LOOKOUT1" in ASCII.
INGEST_LOCK = 0x4C4F4F4B4F555431
EMPTY_TOPOLOGY = Topology()


@dataclass
class IngestResult:
    received: int = 0
    new_alerts: int = 0
    updated_alerts: int = 0
    unchanged_alerts: int = 0
    created_incidents: list[int] = field(default_factory=list)
    changed_incidents: set[int] = field(default_factory=set)
    # Changed only by suppressed (inhibited) alerts: their chat message is not re-rendered.
    quiet_incidents: set[int] = field(default_factory=set)
    merged_incidents: dict[int, int] = field(default_factory=dict)
    reopened_incidents: set[int] = field(default_factory=set)


class AlertIngestor:
    def __init__(
        self,
        database: Database,
        *,
        rules: GroupingRules = DEFAULT_RULES,
        topology: Callable[[], Topology] = lambda: EMPTY_TOPOLOGY,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._database = database
        self._rules = rules
        self._topology = topology
        self._clock = clock

    async def ingest(self, alerts: list[Alert]) -> IngestResult:
        result = IngestResult(received=len(alerts))
        # Last word wins when a batch repeats an alert; event order drives grouping.
        latest = {(a.fingerprint, a.starts_at): a for a in alerts}
        ordered = sorted(latest.values(), key=lambda a: (a.starts_at, a.fingerprint))
        topology = self._topology()
        async with self._database.unit_of_work() as uow:
            await uow.lock(INGEST_LOCK)
            now = self._clock()
            stored = await uow.alerts.find(keys=latest)
            fresh = [a for a in ordered if (a.fingerprint, a.starts_at) not in stored]
            for alert in ordered:
                row = stored.get((alert.fingerprint, alert.starts_at))
                if row is not None:
                    await self._update(uow, row, alert, now, result)
            if fresh:
                await self._group(uow, fresh, topology, now, result)
            await self._refresh(uow, result, topology, now)
        result.unchanged_alerts = result.received - result.new_alerts - result.updated_alerts
        return result

    async def _update(
        self, uow: UnitOfWork, row: AlertRow, alert: Alert, now: datetime, result: IngestResult
    ) -> None:
        """A known alert: record a status change (resolve) or new annotations, nothing else."""
        if (row.status, row.ends_at, row.annotations) == (
            alert.status,
            alert.ends_at,
            alert.annotations,
        ):
            return
        became_resolved = row.status == "firing" and alert.status == "resolved"
        row.status = alert.status
        row.ends_at = alert.ends_at
        row.annotations = alert.annotations
        row.updated_at = now
        result.updated_alerts += 1
        if row.incident_id is None:
            return
        result.changed_incidents.add(row.incident_id)
        if became_resolved:
            await uow.incidents.add_event(
                incident_id=row.incident_id,
                kind="alert_resolved",
                text=f"Alert {row.name} resolved" + (f" ({row.service})" if row.service else ""),
                at=alert.ends_at or now,
                data={"fingerprint": row.fingerprint},
            )

    async def _group(
        self,
        uow: UnitOfWork,
        fresh: list[Alert],
        topology: Topology,
        now: datetime,
        result: IngestResult,
    ) -> None:
        rules = self._rules
        states = {
            state.id: state
            for state in await uow.grouping.states(
                rules=rules,
                fingerprints=[a.fingerprint for a in fresh],
                group_keys=[a.group_key for a in fresh if a.group_key],
                earliest=min(a.starts_at for a in fresh),
                latest=max(a.starts_at for a in fresh),
                inhibitors=possible_inhibitors(fresh, topology=topology, rules=rules),
                with_services=any(a.service in topology for a in fresh if a.service),
            )
        }
        placement = Placement()
        for alert in fresh:
            decision = correlate(alert, list(states.values()), topology=topology, rules=rules)
            if decision.incident_id is None and not alert.firing:
                # Resolved before we ever saw it fire: keep it, but open no incident for it.
                placement.orphan(alert)
            elif decision.incident_id is None:
                incident = await uow.incidents.create(
                    title=title_for([AlertBrief.of(alert)]),
                    severity=alert.severity.label,
                    service=alert.service or "unknown",
                    first_alert_at=alert.starts_at,
                    now=now,
                )
                states[incident.id] = IncidentState.start(incident.id, alert, rules)
                result.created_incidents.append(incident.id)
                placement.opened(alert, incident.id)
            else:
                target = decision.incident_id
                for merged in decision.merged:
                    states[target].merge(states.pop(merged))
                    placement.merged(merged, target, decision.reason, alert.starts_at)
                reopens = decision.kind is DecisionKind.REOPEN and alert.firing
                states[target].absorb(alert, rules)
                placement.joined(alert, decision, reopens=reopens)
        await placement.write(uow, now)
        result.new_alerts += placement.count
        result.merged_incidents.update(placement.merges)
        # A reopened incident merged into another one later in the batch stays merged.
        result.reopened_incidents |= {i for i in placement.reopened if placement.final(i) == i}
        touched = placement.touched()
        result.quiet_incidents |= placement.quiet() - result.changed_incidents
        result.changed_incidents |= touched

    async def _refresh(
        self, uow: UnitOfWork, result: IngestResult, topology: Topology, now: datetime
    ) -> None:
        """Re-derive title, severity, times and root cause of every touched incident, once
        per batch; bump the revision of those whose chat message must show the change."""
        if not result.changed_incidents:
            return
        incidents = await uow.incidents.get_many(incident_ids=list(result.changed_incidents))
        briefs = await uow.alerts.briefs(incident_ids=list(incidents))
        summaries = await summarize_incidents(
            briefs, topology, changes=uow.changes, alerts=uow.alerts
        )
        for incident_id, incident in incidents.items():
            alerts = briefs[incident_id]
            if incident_id in summaries:
                apply_summary(incident, summaries[incident_id])
            if incident_id in result.reopened_incidents:
                incident.status = IncidentStatus.TRIGGERED.value
                incident.resolved_at = None
                incident.resolved_by = None
            if (
                alerts
                and incident.status != IncidentStatus.RESOLVED
                and not any(alert.firing for alert in alerts)
            ):
                incident.status = IncidentStatus.RESOLVED.value
                incident.resolved_at = now
                incident.resolved_by = "Alertmanager"
                await uow.incidents.add_event(
                    incident_id=incident_id,
                    kind="resolved",
                    text="All alerts resolved; incident resolved automatically",
                    at=now,
                    actor="Alertmanager",
                )
                log.info(
                    "incident resolved by its alerts", extra={"incident": display_id(incident_id)}
                )
            if incident_id not in result.quiet_incidents:
                incident.revision += 1
