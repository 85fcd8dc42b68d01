"""Alerts: one row per (fingerprint, startsAt) — a re-delivery finds its row again."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from core.alerts import Alert
from core.incidents import AlertBrief, IncidentStatus
from core.severity import Severity, parse_severity
from storage.models import AlertRow, IncidentRow

AlertKey = tuple[str, datetime]


def to_alert(row: AlertRow) -> Alert:
    """The domain view of a stored alert."""
    return Alert(
        fingerprint=row.fingerprint,
        status="resolved" if row.status == "resolved" else "firing",
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        labels=dict(row.labels),
        annotations=dict(row.annotations),
        group_key=row.group_key,
        generator_url=row.generator_url,
        receiver=row.receiver,
    )


def _values(
    alert: Alert, incident_id: int | None, now: datetime, suppressed_by: str | None = None
) -> dict[str, Any]:
    return {
        "fingerprint": alert.fingerprint,
        "starts_at": alert.starts_at,
        "ends_at": alert.ends_at,
        "status": alert.status,
        "name": alert.name,
        "severity": alert.severity.label,
        "service": alert.service,
        "labels": alert.labels,
        "annotations": alert.annotations,
        "group_key": alert.group_key,
        "generator_url": alert.generator_url,
        "receiver": alert.receiver,
        "incident_id": incident_id,
        "received_at": now,
        "updated_at": now,
        "suppressed_by": suppressed_by,
    }


class AlertRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def find(self, *, keys: Iterable[AlertKey]) -> dict[AlertKey, AlertRow]:
        """The stored alerts among `keys`, by key."""
        wanted = list(set(keys))
        found: dict[AlertKey, AlertRow] = {}
        for start in range(0, len(wanted), 400):
            chunk = wanted[start : start + 400]
            query = select(AlertRow).where(
                tuple_(AlertRow.fingerprint, AlertRow.starts_at).in_(chunk)
            )
            for row in (await self._session.scalars(query)).all():
                found[(row.fingerprint, row.starts_at)] = row
        return found

    async def add_many(
        self,
        *,
        alerts: Sequence[tuple[Alert, int | None]],
        now: datetime,
        suppressed_by: Sequence[str | None] = (),
    ) -> list[int]:
        """Insert (alert, incident id) pairs; their ids, in the same order.
        `suppressed_by[i]`, when given, is the service that inhibits the i-th alert.

        One multi-row INSERT, then the ids read back by their unique key: an INSERT …
        RETURNING that must keep the parameters' order runs row by row on SQLite (it cannot
        promise RETURNING's order), a round trip per alert."""
        if not alerts:
            return []
        sources = list(suppressed_by) + [None] * (len(alerts) - len(suppressed_by))
        values = [
            _values(alert, incident_id, now, source)
            for (alert, incident_id), source in zip(alerts, sources, strict=True)
        ]
        await self._session.execute(insert(AlertRow), values)
        keys = [(alert.fingerprint, alert.starts_at) for alert, _ in alerts]
        ids: dict[AlertKey, int] = {}
        for start in range(0, len(keys), 400):
            query = select(AlertRow.id, AlertRow.fingerprint, AlertRow.starts_at).where(
                tuple_(AlertRow.fingerprint, AlertRow.starts_at).in_(keys[start : start + 400])
            )
            for alert_id, fingerprint, starts_at in await self._session.execute(query):
                ids[(fingerprint, starts_at)] = alert_id
        return [ids[key] for key in keys]

    async def add(self, *, alert: Alert, incident_id: int | None, now: datetime) -> AlertRow:
        row = AlertRow(**_values(alert, incident_id, now))
        self._session.add(row)
        return row

    async def briefs(self, *, incident_ids: Iterable[int]) -> dict[int, list[AlertBrief]]:
        """What titles and severities derive from, summarized by the database: one brief per
        (name, severity, service, state) and incident, so the cost follows the variety of an
        incident's alerts, not their number."""
        ids = list(set(incident_ids))
        grouped: dict[int, list[AlertBrief]] = {incident_id: [] for incident_id in ids}
        if not ids:
            return grouped
        alike = (
            AlertRow.incident_id,
            AlertRow.name,
            AlertRow.severity,
            AlertRow.service,
            AlertRow.status,
        )
        query = (
            select(
                *alike,
                func.min(AlertRow.fingerprint),
                func.min(AlertRow.starts_at),
                func.max(AlertRow.starts_at),
                func.count(),
            )
            .where(AlertRow.incident_id.in_(ids))
            .group_by(*alike)
        )
        for incident_id, name, severity, service, status, fp, first, last, count in (
            await self._session.execute(query)
        ).all():
            if incident_id is None:
                continue
            grouped[incident_id].append(
                AlertBrief(
                    fingerprint=fp,
                    name=name,
                    severity=parse_severity(severity),
                    service=service,
                    firing=status == "firing",
                    starts_at=first,
                    count=int(count),
                    latest_at=last,
                )
            )
        return grouped

    async def annotations(self, *, keys: Sequence[tuple[int, str]]) -> dict[int, dict[str, Any]]:
        """The annotations of one alert per (incident id, fingerprint)."""
        found: dict[int, dict[str, Any]] = {}
        for start in range(0, len(keys), 400):
            chunk = list(keys[start : start + 400])
            query = select(AlertRow.incident_id, AlertRow.annotations).where(
                tuple_(AlertRow.incident_id, AlertRow.fingerprint).in_(chunk)
            )
            for incident_id, notes in (await self._session.execute(query)).all():
                if incident_id is not None:
                    found.setdefault(incident_id, dict(notes))
        return found

    async def fingerprints(self, *, incident_ids: Iterable[int]) -> dict[int, list[str]]:
        ids = list(set(incident_ids))
        grouped: dict[int, list[str]] = {incident_id: [] for incident_id in ids}
        if not ids:
            return grouped
        query = (
            select(AlertRow.incident_id, AlertRow.fingerprint)
            .where(AlertRow.incident_id.in_(ids))
            .distinct()
        )
        for incident_id, fingerprint in (await self._session.execute(query)).all():
            if incident_id is not None:
                grouped[incident_id].append(fingerprint)
        return grouped

    async def for_incident(self, *, incident_id: int) -> list[AlertRow]:
        query = (
            select(AlertRow)
            .where(AlertRow.incident_id == incident_id)
            .order_by(AlertRow.starts_at, AlertRow.id)
        )
        return list((await self._session.scalars(query)).all())

    async def for_incidents(self, *, incident_ids: Iterable[int]) -> dict[int, list[AlertRow]]:
        ids = list(set(incident_ids))
        grouped: dict[int, list[AlertRow]] = {incident_id: [] for incident_id in ids}
        if not ids:
            return grouped
        query = (
            select(AlertRow)
            .where(AlertRow.incident_id.in_(ids))
            .order_by(AlertRow.starts_at, AlertRow.id)
        )
        for row in (await self._session.scalars(query)).all():
            if row.incident_id is not None:
                grouped[row.incident_id].append(row)
        return grouped

    async def firing_services(self) -> dict[str, Severity]:
        """The worst severity firing per service, over the alerts of open incidents."""
        query = (
            select(AlertRow.service, AlertRow.severity)
            .join(IncidentRow, IncidentRow.id == AlertRow.incident_id)
            .where(
                AlertRow.status == "firing",
                AlertRow.service.is_not(None),
                IncidentRow.status != IncidentStatus.RESOLVED.value,
            )
            .distinct()
        )
        worst: dict[str, Severity] = {}
        for service, label in await self._session.execute(query):
            if service is not None:
                severity = parse_severity(label)
                worst[service] = max(worst.get(service, severity), severity)
        return worst

    async def firing_from(self, *, receiver: str) -> list[Alert]:
        """The alerts still firing that `receiver` sent (Lookout's own signals name theirs:
        `lookout-slo`, `lookout-capacity`, `lookout-checks`)."""
        query = select(AlertRow).where(AlertRow.receiver == receiver, AlertRow.status == "firing")
        return [to_alert(row) for row in (await self._session.scalars(query)).all()]

    async def noisiest(
        self, *, since: datetime, until: datetime, limit: int = 5
    ) -> list[tuple[str, str | None, int]]:
        """(alert name, service, how many) of the alerts that started in [since, until),
        most first."""
        query = (
            select(AlertRow.name, AlertRow.service, func.count())
            .where(AlertRow.starts_at >= since, AlertRow.starts_at < until)
            .group_by(AlertRow.name, AlertRow.service)
            .order_by(func.count().desc(), AlertRow.name)
            .limit(limit)
        )
        return [
            (name, service, int(count))
            for name, service, count in await self._session.execute(query)
        ]

    async def counts(self, *, incident_ids: Iterable[int]) -> dict[int, int]:
        """How many alerts each incident holds."""
        ids = list(set(incident_ids))
        found = dict.fromkeys(ids, 0)
        for start in range(0, len(ids), 400):
            query = (
                select(AlertRow.incident_id, func.count())
                .where(AlertRow.incident_id.in_(ids[start : start + 400]))
                .group_by(AlertRow.incident_id)
            )
            for incident_id, count in await self._session.execute(query):
                if incident_id is not None:
                    found[incident_id] = int(count)
        return found
