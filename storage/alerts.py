"""Alerts: one row per occurrence — the n-th time a fingerprint fired (or arrived resolved).

A re-delivery finds the fingerprint's latest occurrence again and changes nothing; an alert
that fires again after it resolved is a new occurrence (see `bot.background.ingest`)."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, insert, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.alerts import Alert
from core.incidents import AlertBrief, IncidentStatus
from core.severity import Severity, parse_severity
from core.text import GROUP_KEY_LIMIT, bounded, bounded_or_none
from storage.models import AlertRow, IncidentRow

AlertKey = tuple[str, datetime]


def _utc(value: datetime | str) -> datetime:
    """An aggregate over a UTC column, as the driver returns it (SQLite: naive, or text)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


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


@dataclass(frozen=True)
class NewAlert:
    """An occurrence to insert: the alert, its occurrence number, the incident it joins (None:
    kept without one), whether it was seen firing, and the service inhibiting it if any."""

    alert: Alert
    occurrence: int
    incident_id: int | None
    seen_firing: bool = True
    suppressed_by: str | None = None


def _values(new: NewAlert, now: datetime) -> dict[str, Any]:
    alert = new.alert
    return {
        "fingerprint": alert.fingerprint,
        "occurrence": new.occurrence,
        "seen_firing": new.seen_firing,
        "starts_at": alert.starts_at,
        "ends_at": alert.ends_at,
        "status": alert.status,
        "name": bounded(alert.name),
        "severity": alert.severity.label,
        "service": bounded_or_none(alert.service),
        "labels": alert.labels,
        "annotations": alert.annotations,
        "group_key": bounded_or_none(alert.group_key, GROUP_KEY_LIMIT),
        "generator_url": alert.generator_url,
        "receiver": bounded_or_none(alert.receiver),
        "incident_id": new.incident_id,
        "received_at": now,
        "updated_at": now,
        "suppressed_by": bounded_or_none(new.suppressed_by),
    }


class AlertRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def latest(self, *, fingerprints: Iterable[str]) -> dict[str, AlertRow]:
        """Each fingerprint's latest occurrence (the only one that may be firing), by
        fingerprint; fingerprints never seen are absent."""
        wanted = sorted(set(fingerprints))
        found: dict[str, AlertRow] = {}
        for start in range(0, len(wanted), 400):
            chunk = wanted[start : start + 400]
            newest = (
                select(AlertRow.fingerprint, func.max(AlertRow.occurrence).label("occurrence"))
                .where(AlertRow.fingerprint.in_(chunk))
                .group_by(AlertRow.fingerprint)
                .subquery()
            )
            query = select(AlertRow).join(
                newest,
                (AlertRow.fingerprint == newest.c.fingerprint)
                & (AlertRow.occurrence == newest.c.occurrence),
            )
            for row in (await self._session.scalars(query)).all():
                found[row.fingerprint] = row
        return found

    async def add_many(self, *, alerts: Sequence[NewAlert], now: datetime) -> list[int]:
        """Insert occurrences; their ids, in the same order. The caller holds ingestion's
        lock (`storage.locks.INGEST_LOCK`), so no other insert interleaves.

        SQLite: one executemany, whose rows get consecutive rowids in order; the ids are then
        the newest ones. PostgreSQL: INSERT … RETURNING in parameter order."""
        if not alerts:
            return []
        values = [_values(new, now) for new in alerts]
        if self._session.get_bind().dialect.name != "sqlite":
            returning = insert(AlertRow).returning(AlertRow.id, sort_by_parameter_order=True)
            return [int(row[0]) for row in await self._session.execute(returning, values)]
        await self._session.execute(insert(AlertRow), values)
        newest = (
            select(AlertRow.id, AlertRow.fingerprint, AlertRow.occurrence)
            .order_by(AlertRow.id.desc())
            .limit(len(values))
        )
        rows = sorted((await self._session.execute(newest)).all())
        if [(fp, n) for _, fp, n in rows] == [
            (new.alert.fingerprint, new.occurrence) for new in alerts
        ]:
            return [int(alert_id) for alert_id, _, _ in rows]
        return await self._ids(alerts)  # someone else wrote meanwhile: look each one up

    async def _ids(self, alerts: Sequence[NewAlert]) -> list[int]:
        keys = [(new.alert.fingerprint, new.occurrence) for new in alerts]
        ids: dict[tuple[str, int], int] = {}
        for start in range(0, len(keys), 400):
            query = select(AlertRow.id, AlertRow.fingerprint, AlertRow.occurrence).where(
                tuple_(AlertRow.fingerprint, AlertRow.occurrence).in_(keys[start : start + 400])
            )
            for alert_id, fingerprint, occurrence in await self._session.execute(query):
                ids[(fingerprint, occurrence)] = alert_id
        return [ids[key] for key in keys]

    async def add(
        self, *, alert: Alert, incident_id: int | None, now: datetime, occurrence: int = 1
    ) -> AlertRow:
        """Add one occurrence (seen firing); the caller chooses its number."""
        row = AlertRow(**_values(NewAlert(alert, occurrence, incident_id), now))
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
            AlertRow.seen_firing,
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
        for incident_id, name, severity, service, status, seen, fp, first, last, count in (
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
                    seen_firing=bool(seen),
                )
            )
        return grouped

    async def close_firing(self, *, incident_id: int, at: datetime) -> int:
        """End the incident's firing occurrences at `at` (a person resolved it); how many."""
        query = (
            update(AlertRow)
            .where(AlertRow.incident_id == incident_id, AlertRow.status == "firing")
            .values(status="resolved", ends_at=at, updated_at=at)
        )
        result = await self._session.execute(query)
        return int(getattr(result, "rowcount", 0) or 0)

    async def ended_at(self, *, incident_ids: Sequence[int]) -> dict[int, datetime]:
        """When each incident's alerts ended in event time: the latest `endsAt` (or, for an
        alert that has none, its start) over its alerts."""
        found: dict[int, datetime] = {}
        ids = list(set(incident_ids))
        for start in range(0, len(ids), 400):
            query = (
                select(
                    AlertRow.incident_id,
                    func.max(func.coalesce(AlertRow.ends_at, AlertRow.starts_at)),
                )
                .where(AlertRow.incident_id.in_(ids[start : start + 400]))
                .group_by(AlertRow.incident_id)
            )
            for incident_id, ended in await self._session.execute(query):
                if incident_id is not None and ended is not None:
                    found[incident_id] = _utc(ended)
        return found

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

    async def firing_services(
        self, *, projects: Collection[str] | None = None
    ) -> dict[str, Severity]:
        """The worst severity firing per service, over the alerts of open incidents (of
        `projects` when given)."""
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
        if projects is not None:
            query = query.where(IncidentRow.project.in_(list(projects)))
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
        self,
        *,
        since: datetime,
        until: datetime,
        limit: int = 5,
        projects: Collection[str] | None = None,
    ) -> list[tuple[str, str | None, int]]:
        """(alert name, service, how many) of the alerts that started in [since, until),
        most first; with `projects`, only alerts of those projects' incidents."""
        query = select(AlertRow.name, AlertRow.service, func.count()).where(
            AlertRow.starts_at >= since, AlertRow.starts_at < until
        )
        if projects is not None:
            query = query.join(IncidentRow, IncidentRow.id == AlertRow.incident_id).where(
                IncidentRow.project.in_(list(projects))
            )
        query = (
            query.group_by(AlertRow.name, AlertRow.service)
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

    async def label_sets(self, *, incident_id: int, limit: int = 200) -> list[dict[str, Any]]:
        """The label sets of an incident's first `limit` alerts (what its environment is)."""
        query = (
            select(AlertRow.labels)
            .where(AlertRow.incident_id == incident_id)
            .order_by(AlertRow.starts_at, AlertRow.id)
            .limit(limit)
        )
        return [dict(labels or {}) for labels in (await self._session.scalars(query)).all()]
