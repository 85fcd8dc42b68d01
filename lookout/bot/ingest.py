"""Alert ingestion: dedup, group and store a delivery in one transaction.

The webhook answers 200 only after this commits, and a re-delivery of the same payload finds
every alert already stored (unique fingerprint + startsAt) and changes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from lookout.core.alerts import Alert
from lookout.core.grouping import DEFAULT_WINDOW, IncidentSnapshot, match_alert
from lookout.core.incidents import (
    AlertBrief,
    IncidentStatus,
    display_id,
    primary_service,
    title_for,
    worst_severity,
)
from lookout.storage.database import Database
from lookout.storage.incidents import AlertLink, NewEvent
from lookout.storage.models import AlertRow, IncidentRow
from lookout.storage.uow import UnitOfWork

log = logging.getLogger(__name__)

# Advisory lock key shared by every replica's ingestion (PostgreSQL); "LOOKOUT1" in ASCII.
INGEST_LOCK = 0x4C4F4F4B4F555431


@dataclass
class IngestResult:
    received: int = 0
    new_alerts: int = 0
    updated_alerts: int = 0
    unchanged_alerts: int = 0
    created_incidents: list[int] = field(default_factory=list)
    changed_incidents: set[int] = field(default_factory=set)


class AlertIngestor:
    def __init__(
        self,
        database: Database,
        *,
        window: timedelta = DEFAULT_WINDOW,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._database = database
        self._window = window
        self._clock = clock

    async def ingest(self, alerts: list[Alert]) -> IngestResult:
        result = IngestResult(received=len(alerts))
        # Last word wins when a batch repeats an alert; event order drives grouping.
        latest = {(a.fingerprint, a.starts_at): a for a in alerts}
        ordered = sorted(latest.values(), key=lambda a: (a.starts_at, a.fingerprint))
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
                await self._group(uow, fresh, now, result)
            await self._refresh(uow, result, now)
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
        self, uow: UnitOfWork, fresh: list[Alert], now: datetime, result: IngestResult
    ) -> None:
        candidates = await uow.incidents.grouping_candidates(
            fingerprints=[a.fingerprint for a in fresh]
        )
        by_id: dict[int, IncidentSnapshot] = {c.id: c for c in candidates}
        placed: list[tuple[Alert, int, str, str, str]] = []
        orphans: list[Alert] = []
        for alert in fresh:
            match = match_alert(alert, list(by_id.values()), window=self._window)
            if match.incident_id is None and not alert.firing:
                # Resolved before we ever saw it fire: keep it, but open no incident for it.
                orphans.append(alert)
            elif match.incident_id is None:
                incident = await uow.incidents.create(
                    title=title_for([AlertBrief.of(alert)]),
                    severity=alert.severity.label,
                    service=alert.service or "unknown",
                    first_alert_at=alert.starts_at,
                    now=now,
                )
                by_id[incident.id] = IncidentSnapshot.start(incident.id, alert)
                result.created_incidents.append(incident.id)
                text = f"Opened by alert {alert.name}: {alert.summary}"
                placed.append((alert, incident.id, "opened", text, "first alert"))
            else:
                by_id[match.incident_id].absorb(alert)
                text = f"Alert {alert.name} {match.reason}"
                placed.append((alert, match.incident_id, "alert_joined", text, match.reason))
        ids = await uow.alerts.add_many(
            alerts=[(alert, incident_id) for alert, incident_id, *_ in placed]
            + [(alert, None) for alert in orphans],
            now=now,
        )
        await uow.incidents.link_alerts(
            links=[
                AlertLink(incident_id=incident_id, alert_id=alert_id, reason=reason)
                for alert_id, (_, incident_id, _, _, reason) in zip(ids, placed, strict=False)
            ],
            now=now,
        )
        await uow.incidents.add_events(
            events=[
                NewEvent(
                    incident_id=incident_id,
                    kind=kind,
                    text=text,
                    at=alert.starts_at,
                    data={"fingerprint": alert.fingerprint, "service": alert.service},
                )
                for alert, incident_id, kind, text, _ in placed
            ]
        )
        result.changed_incidents.update(incident_id for _, incident_id, *_ in placed)
        result.new_alerts += len(placed) + len(orphans)

    async def _refresh(self, uow: UnitOfWork, result: IngestResult, now: datetime) -> None:
        """Re-derive title, severity and times of every touched incident, once per batch."""
        if not result.changed_incidents:
            return
        incidents = await uow.incidents.get_many(incident_ids=list(result.changed_incidents))
        briefs = await uow.alerts.briefs(incident_ids=list(incidents))
        for incident_id, incident in incidents.items():
            alerts = briefs[incident_id]
            if alerts:
                self._derive(incident, alerts)
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
            incident.revision += 1

    @staticmethod
    def _derive(incident: IncidentRow, alerts: list[AlertBrief]) -> None:
        incident.title = title_for(alerts)[:500]
        incident.severity = worst_severity(alerts).label
        incident.service = primary_service(alerts)
        incident.first_alert_at = min(alert.starts_at for alert in alerts)
        incident.last_alert_at = max(alert.last_at for alert in alerts)
