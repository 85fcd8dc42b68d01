"""Alert ingestion: dedup, correlate and store a delivery in one transaction.

The webhook answers 200 only after this commits. Each notification is first read against its
fingerprint's latest occurrence (`core.lifecycle.transition`): a re-delivery changes nothing,
a resolve ends the firing occurrence whatever its `startsAt`, a firing alert with no firing
occurrence starts a new one. Where each new occurrence goes is `core.correlation.correlate`'s
decision against the incidents the database summarizes (`uow.grouping.states`); the decisions
of a batch are then written in bulk, and every incident the batch touched is re-derived once.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy.exc import DBAPIError

from bot.background.placement import Placement
from core.alerts import Alert
from core.correlation import DecisionKind, correlate
from core.grouping_rules import DEFAULT_RULES, Evidence, GroupingRules
from core.incident_index import IncidentIndex
from core.incident_state import IncidentState
from core.incidents import AlertBrief, IncidentStatus, display_id, title_for
from core.inhibition import possible_inhibitors
from core.lifecycle import Occurrence, Step, transition
from core.projects import Projects
from core.topology import Topology
from storage.database import Database, is_deadlock
from storage.incidents import NewEvent, NewIncident, apply_summary
from storage.locks import INGEST_LOCK
from storage.models import AlertRow, IncidentRow
from storage.summaries import summarize_incidents
from storage.uow import UnitOfWork

log = logging.getLogger(__name__)

EMPTY_TOPOLOGY = Topology()
DEADLOCK_ATTEMPTS = 3


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
    # Incidents one of whose alerts resolved in this batch.
    alert_resolved_in: set[int] = field(default_factory=set)


# Records a delivery's audit entry in the unit of work that stored it, given its result.
DeliveryAudit = Callable[[UnitOfWork, IngestResult], Awaitable[None]]


@dataclass
class _Ledger:
    """What each fingerprint of a batch did, so that deliveries ingested together each get
    their own account: new or updated, the incidents it changed, the one it opened."""

    new: set[str] = field(default_factory=set)
    updated: set[str] = field(default_factory=set)
    touched: dict[str, set[int]] = field(default_factory=dict)
    opened: dict[str, int] = field(default_factory=dict)

    def touch(self, fingerprint: str, *incident_ids: int) -> None:
        self.touched.setdefault(fingerprint, set()).update(incident_ids)

    def account(self, alerts: Sequence[Alert], result: IngestResult) -> IngestResult:
        """One delivery's share of the batch's `result`."""
        mine = IngestResult(received=len(alerts))
        fingerprints = {alert.fingerprint for alert in alerts}
        mine.new_alerts = len(fingerprints & self.new)
        mine.updated_alerts = len(fingerprints & self.updated)
        mine.unchanged_alerts = mine.received - mine.new_alerts - mine.updated_alerts
        mine.created_incidents = sorted(self.opened[fp] for fp in fingerprints if fp in self.opened)
        for fingerprint in fingerprints:
            mine.changed_incidents |= self.touched.get(fingerprint, set())
        mine.merged_incidents = {
            source: target
            for source, target in result.merged_incidents.items()
            if source in mine.changed_incidents or target in mine.changed_incidents
        }
        mine.reopened_incidents = result.reopened_incidents & mine.changed_incidents
        return mine


class AlertIngestor:
    def __init__(
        self,
        database: Database,
        *,
        rules: GroupingRules = DEFAULT_RULES,
        topology: Callable[[], Topology] = lambda: EMPTY_TOPOLOGY,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        projects: Callable[[], Projects] = Projects,
    ) -> None:
        self._database = database
        self._rules = rules
        self._topology = topology
        self._clock = clock
        self._projects = projects

    async def ingest(self, alerts: list[Alert], *, truncated_alerts: int = 0) -> IngestResult:
        """Store one delivery. `truncated_alerts` is how many alerts the sender left out of
        it (Alertmanager's `truncatedAlerts`); the incidents it reached say so."""
        [result] = await self.ingest_many([(alerts, truncated_alerts)])
        return result

    async def ingest_many(
        self,
        deliveries: Sequence[tuple[list[Alert], int]],
        audits: Sequence[DeliveryAudit | None] = (),
    ) -> list[IngestResult]:
        """Store several deliveries (alerts, truncated count) in one transaction, as if one
        after the other; each gets its own result. No fingerprint may be in two of them
        (`shares_no_fingerprint`): then their order within the batch cannot matter.
        `audits`, by delivery: what records each one's audit entry, in the same transaction.

        A transaction PostgreSQL chose to fail to break a deadlock with another writer is
        run again, up to `DEADLOCK_ATTEMPTS` times (as PostgreSQL's manual advises: nothing
        of it was committed)."""
        for attempt in range(1, DEADLOCK_ATTEMPTS + 1):
            try:
                return await self._ingest_once(deliveries, audits)
            except DBAPIError as error:
                if attempt == DEADLOCK_ATTEMPTS or not is_deadlock(error):
                    raise
                log.warning(
                    "ingestion deadlocked with another transaction; running it again",
                    extra={"attempt": attempt},
                )
                await asyncio.sleep(random.uniform(0.01, 0.05) * attempt)
        raise AssertionError("unreachable")

    async def _ingest_once(
        self,
        deliveries: Sequence[tuple[list[Alert], int]],
        audits: Sequence[DeliveryAudit | None],
    ) -> list[IngestResult]:
        ledger = _Ledger()
        total = IngestResult(received=sum(len(alerts) for alerts, _ in deliveries))
        # An alert is its fingerprint: the last word of a delivery about one wins.
        latest = {a.fingerprint: a for alerts, _ in deliveries for a in alerts}
        ordered = sorted(latest.values(), key=lambda a: (a.starts_at, a.fingerprint))
        topology = self._topology()
        async with self._database.unit_of_work() as uow:
            await uow.lock(INGEST_LOCK)
            now = self._clock()
            fresh = await self._read(uow, ordered, now, total, ledger)
            reopened_at = (
                await self._group(uow, fresh, topology, now, total, ledger) if fresh else {}
            )
            for alerts, truncated in deliveries:
                if truncated:
                    await self._note_truncation(uow, alerts, truncated, total, ledger)
            await self._refresh(uow, total, topology, now, reopened_at)
            results = [ledger.account(alerts, total) for alerts, _ in deliveries]
            for audit, result in zip(audits, results, strict=False):
                if audit is not None:
                    await audit(uow, result)
        return results

    async def _read(
        self,
        uow: UnitOfWork,
        ordered: list[Alert],
        now: datetime,
        result: IngestResult,
        ledger: _Ledger,
    ) -> list[tuple[Alert, int]]:
        """Each notification against its fingerprint's latest occurrence; returns the new
        occurrences to group, with their numbers."""
        stored = await uow.alerts.latest(fingerprints={a.fingerprint for a in ordered})
        incidents = await uow.incidents.get_many(
            incident_ids=[row.incident_id for row in stored.values() if row.incident_id]
        )
        fresh: list[tuple[Alert, int]] = []
        events: list[NewEvent] = []
        for alert in ordered:
            row = stored.get(alert.fingerprint)
            step = transition(_occurrence(row, incidents), alert)
            if step.step in (Step.FIRE, Step.UNSEEN):
                assert step.alert is not None
                if row is not None and row.status == "firing":
                    # Firing inside an incident someone resolved: that occurrence is over.
                    self._end(row, step.alert.starts_at, now)
                fresh.append((step.alert, step.occurrence))
            elif step.step is Step.RESOLVE and row is not None:
                assert step.ends_at is not None
                self._end(row, step.ends_at, now, annotations=alert.annotations)
                result.updated_alerts += 1
                ledger.updated.add(alert.fingerprint)
                if row.incident_id is not None:
                    result.changed_incidents.add(row.incident_id)
                    result.alert_resolved_in.add(row.incident_id)
                    ledger.touch(alert.fingerprint, row.incident_id)
                    events.append(
                        NewEvent(
                            incident_id=row.incident_id,
                            kind="alert_resolved",
                            text=f"Alert {row.name} resolved"
                            + (f" ({row.service})" if row.service else ""),
                            at=step.ends_at,
                            data={"fingerprint": row.fingerprint},
                        )
                    )
            elif step.step is Step.UPDATE and row is not None:
                row.annotations = alert.annotations
                row.updated_at = now
                result.updated_alerts += 1
                ledger.updated.add(alert.fingerprint)
                if row.incident_id is not None:
                    result.changed_incidents.add(row.incident_id)
                    ledger.touch(alert.fingerprint, row.incident_id)
        await uow.incidents.add_events(events=events)
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
        ledger: _Ledger,
    ) -> dict[int, datetime]:
        """Place new occurrences; returns reopened incidents with the event time of the
        alert that reopened each. Each project's alerts are grouped among its own incidents
        only: nothing joins, merges with or reopens another project's incident."""
        projects = self._projects()
        by_project: dict[str, list[tuple[Alert, int]]] = {}
        for alert, occurrence in fresh:
            project = projects.of_alert(alert.labels, alert.service)
            by_project.setdefault(project, []).append((alert, occurrence))
        placement = Placement()
        # New incidents get provisional (negative) ids and are created together at the end.
        created: dict[int, NewIncident] = {}
        opened_by: dict[int, str] = {}
        merged_by: dict[str, set[int]] = {}
        for project, part in by_project.items():
            await self._group_project(
                uow, project, part, topology, now, placement, created, opened_by, merged_by
            )
        ids = await uow.incidents.create_many(incidents=list(created.values()), now=now)
        real = dict(zip(created, ids, strict=True))
        placement.renumber(real)
        result.created_incidents += ids
        for provisional, fingerprint in opened_by.items():
            ledger.opened[fingerprint] = real[provisional]
        for fingerprint, involved in merged_by.items():
            ledger.touch(fingerprint, *(real.get(i, i) for i in involved))
        for fingerprint, incident_id in placement.placed():
            ledger.touch(fingerprint, incident_id)
        ledger.new |= {alert.fingerprint for alert, _ in fresh}
        await placement.write(uow, now)
        result.new_alerts += placement.count
        result.merged_incidents.update(placement.merges)
        # A reopened incident merged into another one later in the batch stays merged.
        reopened = {i: at for i, at in placement.reopened.items() if placement.final(i) == i}
        result.reopened_incidents |= set(reopened)
        result.changed_incidents |= placement.touched()
        return reopened

    async def _group_project(
        self,
        uow: UnitOfWork,
        project: str,
        fresh: list[tuple[Alert, int]],
        topology: Topology,
        now: datetime,
        placement: Placement,
        created: dict[int, NewIncident],
        opened_by: dict[int, str],
        merged_by: dict[str, set[int]],
    ) -> None:
        """Place one project's new occurrences among that project's incidents."""
        rules = self._rules
        alerts = [alert for alert, _ in fresh]
        states = IncidentIndex(
            await uow.grouping.states(
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
                project=project if self._projects().configured else None,
            ),
            rules,
        )
        for alert, occurrence in fresh:
            decision = correlate(alert, states, topology=topology, rules=rules, now=now)
            if not alert.firing:
                # Fired and resolved between notifications: it joins only the incident that
                # holds its fingerprint, and never names, opens or reopens one.
                if decision.incident_id is not None and decision.evidence is Evidence.FINGERPRINT:
                    placement.joined(alert, occurrence, decision, reopens=False)
                else:
                    placement.orphan(alert, occurrence)
            elif decision.incident_id is None:
                provisional = -1 - len(created)
                created[provisional] = NewIncident(
                    title=title_for([AlertBrief.of(alert)]),
                    severity=alert.severity.label,
                    service=alert.service or "unknown",
                    first_alert_at=alert.starts_at,
                    project=project,
                )
                states.add(IncidentState.start(provisional, alert, rules))
                placement.opened(alert, occurrence, provisional)
                opened_by[provisional] = alert.fingerprint
            else:
                target = decision.incident_id
                for merged in decision.merged:
                    states.merge(target, merged)
                    placement.merged(merged, target, decision.reason, alert.starts_at)
                    merged_by.setdefault(alert.fingerprint, set()).update((merged, target))
                reopens = decision.kind is DecisionKind.REOPEN
                states.absorb(target, alert)
                placement.joined(alert, occurrence, decision, reopens=reopens)

    async def _note_truncation(
        self,
        uow: UnitOfWork,
        alerts: list[Alert],
        truncated: int,
        result: IngestResult,
        ledger: _Ledger,
    ) -> None:
        """The incidents this delivery reached hold up to `truncated` alerts fewer than
        Alertmanager knew of; the most said in the current episode is kept."""
        stored = await uow.alerts.latest(fingerprints={a.fingerprint for a in alerts})
        reached = {row.incident_id for row in stored.values() if row.incident_id is not None}
        for incident in (await uow.incidents.get_many(incident_ids=list(reached))).values():
            if truncated > incident.truncated_alerts:
                incident.truncated_alerts = truncated
                result.changed_incidents.add(incident.id)
        for row in stored.values():
            if row.incident_id is not None:
                ledger.touch(row.fingerprint, row.incident_id)

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
        quiet = [
            incident
            for incident_id, incident in incidents.items()
            if briefs[incident_id]
            and incident.status != IncidentStatus.RESOLVED
            and not any(alert.firing for alert in briefs[incident_id])
        ]
        projects = self._projects()
        done = [i for i in quiet if projects.resolves_with_alerts(i.project)]
        held = [
            i
            for i in quiet
            if i.id in result.alert_resolved_in and not projects.resolves_with_alerts(i.project)
        ]
        ended = await uow.alerts.ended_at(incident_ids=[incident.id for incident in done])
        window = self._rules.window
        summaries = await summarize_incidents(
            briefs,
            topology,
            changes=uow.changes,
            alerts=uow.alerts,
            since={i: incident.episode_started_at - window for i, incident in incidents.items()},
            projects={i: incident.project for i, incident in incidents.items()},
        )
        for incident_id, incident in incidents.items():
            if incident_id in summaries:
                apply_summary(incident, summaries[incident_id])
            incident.revision += 1
        for incident in done:
            await uow.episodes.resolved(
                incident=incident,
                by="Alertmanager",
                at=now,
                resolution="alerts",
                ended_at=ended.get(incident.id),
            )
            log.info("incident resolved by its alerts", extra={"incident": display_id(incident.id)})
        await uow.incidents.add_events(
            events=[
                NewEvent(
                    incident_id=incident.id,
                    kind="resolved",
                    text="All alerts resolved; incident resolved automatically",
                    at=now,
                    actor="Alertmanager",
                )
                for incident in done
            ]
            + [
                NewEvent(
                    incident_id=incident.id,
                    kind="alerts_resolved",
                    text="All alerts resolved; the incident stays open until someone resolves "
                    "it (resolve_with_alerts: false)",
                    at=now,
                    actor="Alertmanager",
                )
                for incident in held
            ]
        )


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


def shares_no_fingerprint(alerts: Sequence[Alert], taken: set[str]) -> bool:
    """Whether a delivery may join a batch whose fingerprints are `taken`."""
    return not any(alert.fingerprint in taken for alert in alerts)
