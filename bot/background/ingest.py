"""Alert ingestion: dedup, correlate and store a delivery in one transaction.

The webhook answers 200 only after this commits. Each notification is first read against its
fingerprint's latest occurrence (`core.lifecycle.transition`): a re-delivery changes nothing,
a resolve ends the firing occurrence whatever its `startsAt`, a firing alert with no firing
occurrence starts a new one. Where each new occurrence goes is `core.correlation.correlate`'s
decision against the incidents the database summarizes (`uow.grouping.states`); the decisions
of a batch are then written in bulk, and every incident the batch touched is re-derived once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from bot.background.placement import Placement
from core.alerts import Alert
from core.correlation import DecisionKind, correlate
from core.grouping_rules import DEFAULT_RULES, Evidence, GroupingRules
from core.incident_state import IncidentState
from core.incidents import AlertBrief, IncidentStatus, display_id, title_for
from core.inhibition import possible_inhibitors
from core.lifecycle import Occurrence, Step, transition
from core.topology import Topology
from storage.database import Database
from storage.incidents import apply_summary
from storage.models import AlertRow, IncidentRow
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

    async def ingest(self, alerts: list[Alert], *, truncated_alerts: int = 0) -> IngestResult:
        """Store one delivery. `truncated_alerts` is how many alerts the sender left out of
        it (Alertmanager's `truncatedAlerts`); the incidents it reached say so."""
        result = IngestResult(received=len(alerts))
        # Last word wins when a batch repeats an alert; event order drives grouping.
        latest = {(a.fingerprint, a.starts_at): a for a in alerts}
        ordered = sorted(latest.values(), key=lambda a: (a.starts_at, a.fingerprint))
        topology = self._topology()
        async with self._database.unit_of_work() as uow:
            await uow.lock(INGEST_LOCK)
            now = self._clock()
            fresh = await self._read(uow, ordered, now, result)
            reopened_at = await self._group(uow, fresh, topology, now, result) if fresh else {}
            if truncated_alerts:
                await self._note_truncation(uow, ordered, truncated_alerts, result)
            await self._refresh(uow, result, topology, now, reopened_at)
        result.unchanged_alerts = result.received - result.new_alerts - result.updated_alerts
        return result

    async def _read(
        self, uow: UnitOfWork, ordered: list[Alert], now: datetime, result: IngestResult
    ) -> list[tuple[Alert, int]]:
        """Each notification against its fingerprint's latest occurrence; returns the new
        occurrences to group, with their numbers."""
        stored = await uow.alerts.latest(fingerprints={a.fingerprint for a in ordered})
        incidents = await uow.incidents.get_many(
            incident_ids=[row.incident_id for row in stored.values() if row.incident_id]
        )
        fresh: list[tuple[Alert, int]] = []
        for alert in ordered:
            row = stored.get(alert.fingerprint)
            step = transition(_occurrence(row, incidents), alert)
            if step.step in (Step.FIRE, Step.UNSEEN):
                assert step.alert is not None
                if row is not None and row.status == "firing":
                    # Firing inside an incident someone resolved: that occurrence is over.
                    self._end(row, step.alert.starts_at, now)
                fresh.append((step.alert, step.occurrence))
                # Later notifications of the batch for this fingerprint see this occurrence.
                stored.pop(alert.fingerprint, None)
            elif step.step is Step.RESOLVE and row is not None:
                assert step.ends_at is not None
                self._end(row, step.ends_at, now, annotations=alert.annotations)
                result.updated_alerts += 1
                if row.incident_id is not None:
                    result.changed_incidents.add(row.incident_id)
                    await uow.incidents.add_event(
                        incident_id=row.incident_id,
                        kind="alert_resolved",
                        text=f"Alert {row.name} resolved"
                        + (f" ({row.service})" if row.service else ""),
                        at=step.ends_at,
                        data={"fingerprint": row.fingerprint},
                    )
            elif step.step is Step.UPDATE and row is not None:
                row.annotations = alert.annotations
                row.updated_at = now
                result.updated_alerts += 1
                if row.incident_id is not None:
                    result.changed_incidents.add(row.incident_id)
        return fresh

    @staticmethod
    def _end(
        row: AlertRow, at: datetime, now: datetime, annotations: dict[str, str] | None = None
    ) -> None:
        row.status = "resolved"
        row.ends_at = at
        if annotations is not None:
            row.annotations = annotations
        row.updated_at = now

    async def _group(
        self,
        uow: UnitOfWork,
        fresh: list[tuple[Alert, int]],
        topology: Topology,
        now: datetime,
        result: IngestResult,
    ) -> dict[int, datetime]:
        """Place new occurrences; returns reopened incidents with the event time of the
        alert that reopened each."""
        rules = self._rules
        alerts = [alert for alert, _ in fresh]
        states = {
            state.id: state
            for state in await uow.grouping.states(
                rules=rules,
                fingerprints=[a.fingerprint for a in alerts],
                group_keys=[
                    a.group_key for a in alerts if a.group_key and rules.identifies(a.group_labels)
                ],
                earliest=min(a.starts_at for a in alerts),
                latest=max(a.starts_at for a in alerts),
                inhibitors=possible_inhibitors(alerts, topology=topology, rules=rules),
                with_services=any(a.service in topology for a in alerts if a.service),
                now=now,
            )
        }
        placement = Placement()
        for alert, occurrence in fresh:
            decision = correlate(
                alert, list(states.values()), topology=topology, rules=rules, now=now
            )
            if not alert.firing:
                # Fired and resolved between notifications: it joins only the incident that
                # holds its fingerprint, and never names, opens or reopens one.
                if decision.incident_id is not None and decision.evidence is Evidence.FINGERPRINT:
                    placement.joined(alert, occurrence, decision, reopens=False)
                else:
                    placement.orphan(alert, occurrence)
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
                placement.opened(alert, occurrence, incident.id)
            else:
                target = decision.incident_id
                for merged in decision.merged:
                    states[target].merge(states.pop(merged))
                    placement.merged(merged, target, decision.reason, alert.starts_at)
                reopens = decision.kind is DecisionKind.REOPEN
                states[target].absorb(alert, rules)
                placement.joined(alert, occurrence, decision, reopens=reopens)
        await placement.write(uow, now)
        result.new_alerts += placement.count
        result.merged_incidents.update(placement.merges)
        # A reopened incident merged into another one later in the batch stays merged.
        reopened = {i: at for i, at in placement.reopened.items() if placement.final(i) == i}
        result.reopened_incidents |= set(reopened)
        result.changed_incidents |= placement.touched()
        return reopened

    async def _note_truncation(
        self, uow: UnitOfWork, ordered: list[Alert], truncated: int, result: IngestResult
    ) -> None:
        """The incidents this delivery reached hold up to `truncated` alerts fewer than
        Alertmanager knew of; the most said in the current episode is kept."""
        stored = await uow.alerts.latest(fingerprints={a.fingerprint for a in ordered})
        reached = {row.incident_id for row in stored.values() if row.incident_id is not None}
        for incident in (await uow.incidents.get_many(incident_ids=list(reached))).values():
            if truncated > incident.truncated_alerts:
                incident.truncated_alerts = truncated
                result.changed_incidents.add(incident.id)

    async def _refresh(
        self,
        uow: UnitOfWork,
        result: IngestResult,
        topology: Topology,
        now: datetime,
        reopened_at: dict[int, datetime],
    ) -> None:
        """Re-derive title, severity, times and root cause of every touched incident, once
        per batch; reopen or resolve what the alerts say; bump every revision, so each chat
        message shows the change (an edit notifies nobody)."""
        if not result.changed_incidents:
            return
        incidents = await uow.incidents.get_many(incident_ids=list(result.changed_incidents))
        for incident_id in result.reopened_incidents:
            incident = incidents.get(incident_id)
            if incident is not None and incident.status == IncidentStatus.RESOLVED:
                await uow.episodes.reopened(
                    incident=incident, at=now, started_at=reopened_at.get(incident_id, now)
                )
                incident.truncated_alerts = 0
        briefs = await uow.alerts.briefs(incident_ids=list(incidents))
        done = [
            incident
            for incident_id, incident in incidents.items()
            if briefs[incident_id]
            and incident.status != IncidentStatus.RESOLVED
            and not any(alert.firing for alert in briefs[incident_id])
        ]
        ended = await uow.alerts.ended_at(incident_ids=[incident.id for incident in done])
        window = self._rules.window
        summaries = await summarize_incidents(
            briefs,
            topology,
            changes=uow.changes,
            alerts=uow.alerts,
            since={i: incident.episode_started_at - window for i, incident in incidents.items()},
        )
        for incident_id, incident in incidents.items():
            if incident_id in summaries:
                apply_summary(incident, summaries[incident_id])
            incident.revision += 1
        for incident in done:
            await self._resolve(uow, incident, now, ended.get(incident.id))

    @staticmethod
    async def _resolve(
        uow: UnitOfWork, incident: IncidentRow, now: datetime, ended_at: datetime | None
    ) -> None:
        await uow.episodes.resolved(
            incident=incident, by="Alertmanager", at=now, resolution="alerts", ended_at=ended_at
        )
        await uow.incidents.add_event(
            incident_id=incident.id,
            kind="resolved",
            text="All alerts resolved; incident resolved automatically",
            at=now,
            actor="Alertmanager",
        )
        log.info("incident resolved by its alerts", extra={"incident": display_id(incident.id)})


def _occurrence(row: AlertRow | None, incidents: dict[int, IncidentRow]) -> Occurrence | None:
    if row is None:
        return None
    incident = incidents.get(row.incident_id) if row.incident_id is not None else None
    return Occurrence(
        number=row.occurrence,
        firing=row.status == "firing",
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        annotations=dict(row.annotations),
        in_open_incident=incident is not None and incident.status != IncidentStatus.RESOLVED,
    )
