"""Ingestion on SQLite and PostgreSQL: dedup, grouping by identity and labels, resolves,
concurrency (topology grouping, merges and inhibition: test_ingest_correlation.py)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from bot.background.ingest import AlertIngestor
from core.alerts import Alert, fingerprint, group_labels_of
from core.grouping_rules import GroupingRules
from core.projects import Project, Projects
from storage.database import Database

T0 = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)


def alert(
    name: str,
    service: str | None,
    minutes: float = 0,
    severity: str = "warning",
    group_key: str | None = None,
    **labels: str,
) -> Alert:
    all_labels = {"alertname": name, "severity": severity, **labels}
    if service:
        all_labels["service"] = service
    return Alert(
        fingerprint=fingerprint(all_labels),
        status="firing",
        starts_at=T0 + timedelta(minutes=minutes),
        ends_at=None,
        labels=all_labels,
        annotations={"summary": f"{name} summary"},
        group_key=group_key,
        group_labels=group_labels_of(group_key),
    )


def resolved(original: Alert, minutes: float) -> Alert:
    return replace(original, status="resolved", ends_at=T0 + timedelta(minutes=minutes))


async def incidents(database: Database) -> list[tuple[int, str, str, str, int]]:
    async with database.unit_of_work() as uow:
        rows = await uow.incidents.find(status="all")
        alerts = await uow.alerts.for_incidents(incident_ids=[r.id for r in rows])
    return sorted((r.id, r.title, r.severity, r.status, len(alerts[r.id])) for r in rows)


async def test_storm_groups_by_service_and_group_key(database: Database) -> None:
    ingestor = AlertIngestor(database, clock=lambda: T0)
    key = '{}:{alertname="high_memory_load", job="node"}'
    result = await ingestor.ingest(
        [
            alert("HighErrorRate", "checkout", 0, "critical"),
            alert("LatencyHigh", "checkout", 5),
            alert("PostgresDown", "postgres", 1, "critical"),
            *(
                alert("high_memory_load", None, 2, group_key=key, instance=f"n{i}", job="node")
                for i in range(5)
            ),
        ]
    )
    assert result.new_alerts == 8 and len(result.created_incidents) == 3
    assert await incidents(database) == [
        (1, "checkout: HighErrorRate and 1 other alert", "critical", "triggered", 2),
        (2, "postgres: PostgresDown", "critical", "triggered", 1),
        (3, "node: high_memory_load", "warning", "triggered", 5),
    ]


async def test_redelivery_changes_nothing(database: Database) -> None:
    ingestor = AlertIngestor(database, clock=lambda: T0)
    batch = [alert("HighErrorRate", "checkout"), alert("LatencyHigh", "checkout", 1)]
    await ingestor.ingest(batch)
    async with database.unit_of_work() as uow:
        before = await uow.incidents.get(incident_id=1)
        events_before = len(await uow.incidents.events(incident_id=1))
    again = await ingestor.ingest(batch)
    assert (again.new_alerts, again.updated_alerts, again.unchanged_alerts) == (0, 0, 2)
    assert again.changed_incidents == set()
    async with database.unit_of_work() as uow:
        after = await uow.incidents.get(incident_id=1)
        assert len(await uow.incidents.events(incident_id=1)) == events_before
    assert before is not None and after is not None
    assert after.revision == before.revision


async def test_a_late_alert_after_the_window_opens_a_new_incident(database: Database) -> None:
    # The default window is 10 minutes from the service's last alert there.
    ingestor = AlertIngestor(database, clock=lambda: T0)
    await ingestor.ingest([alert("HighErrorRate", "checkout")])
    await ingestor.ingest([alert("LatencyHigh", "checkout", 9)])
    await ingestor.ingest([alert("Saturation", "checkout", 20)])
    assert [row[4] for row in await incidents(database)] == [2, 1]


async def test_the_window_is_configurable(database: Database) -> None:
    ingestor = AlertIngestor(database, rules=GroupingRules(window_minutes=30), clock=lambda: T0)
    await ingestor.ingest([alert("HighErrorRate", "checkout")])
    await ingestor.ingest([alert("LatencyHigh", "checkout", 29)])
    await ingestor.ingest([alert("Saturation", "checkout", 60)])
    assert [row[4] for row in await incidents(database)] == [2, 1]


async def test_resolved_alerts_close_and_a_fully_resolved_incident_resolves(
    database: Database,
) -> None:
    ingestor = AlertIngestor(database, clock=lambda: T0 + timedelta(minutes=20))
    first, second = alert("A", "checkout"), alert("B", "checkout", 1)
    await ingestor.ingest([first, second])
    partly = await ingestor.ingest([resolved(first, 10)])
    assert partly.updated_alerts == 1 and partly.changed_incidents == {1}
    assert (await incidents(database))[0][3] == "triggered"
    await ingestor.ingest([resolved(second, 12)])
    assert (await incidents(database))[0][3] == "resolved"
    async with database.unit_of_work() as uow:
        incident = await uow.incidents.get(incident_id=1)
        kinds = [e.kind for e in await uow.incidents.events(incident_id=1)]
    assert incident is not None and incident.resolved_by == "Alertmanager"
    assert kinds == ["opened", "alert_joined", "alert_resolved", "alert_resolved", "resolved"]


async def test_a_project_that_keeps_incidents_open_past_their_alerts_says_so_once(
    database: Database,
) -> None:
    projects = Projects(
        (
            Project("payments", frozenset({"checkout"}), resolve_with_alerts=False),
            Project("platform", frozenset({"postgres"})),
        )
    )
    ingestor = AlertIngestor(
        database, clock=lambda: T0 + timedelta(minutes=20), projects=lambda: projects
    )
    first, second, other = alert("A", "checkout"), alert("B", "checkout", 1), alert("C", "postgres")
    await ingestor.ingest([first, second, other])
    await ingestor.ingest([resolved(first, 10), resolved(other, 10)])
    await ingestor.ingest([resolved(second, 12)])
    await ingestor.ingest([resolved(second, 12)])  # Alertmanager says it again
    statuses = {row[0]: row[3] for row in await incidents(database)}
    assert statuses == {1: "triggered", 2: "resolved"}  # platform resolves with its alerts
    async with database.unit_of_work() as uow:
        kinds = [e.kind for e in await uow.incidents.events(incident_id=1)]
    assert kinds == [
        "opened",
        "alert_joined",
        "alert_resolved",
        "alert_resolved",
        "alerts_resolved",
    ]
    # It fires again within the open incident: it joins, nothing reopens.
    again = await ingestor.ingest([replace(first, starts_at=T0 + timedelta(minutes=15))])
    assert again.created_incidents == [] and again.reopened_incidents == set()
    assert {row[0]: row[3] for row in await incidents(database)}[1] == "triggered"


async def test_resolved_incidents_never_absorb_new_alerts(database: Database) -> None:
    ingestor = AlertIngestor(database, clock=lambda: T0)
    await ingestor.ingest([alert("A", "checkout")])
    async with database.unit_of_work() as uow:
        incident = await uow.incidents.get(incident_id=1)
        assert incident is not None
        incident.status = "resolved"
    result = await ingestor.ingest([alert("B", "checkout", 2)])
    assert result.created_incidents == [2]


async def test_an_alert_first_seen_resolved_is_kept_without_an_incident(
    database: Database,
) -> None:
    ingestor = AlertIngestor(database, clock=lambda: T0)
    result = await ingestor.ingest([resolved(alert("A", "checkout"), 3)])
    assert result.new_alerts == 1 and result.created_incidents == []
    async with database.unit_of_work() as uow:
        stored = await uow.alerts.latest(fingerprints=[alert("A", "checkout").fingerprint])
    assert [(row.status, row.seen_firing) for row in stored.values()] == [("resolved", False)]


async def test_severity_and_title_follow_the_worst_alert(database: Database) -> None:
    ingestor = AlertIngestor(database, clock=lambda: T0)
    await ingestor.ingest([alert("LatencyHigh", "checkout", 0, "warning")])
    await ingestor.ingest([alert("HighErrorRate", "checkout", 1, "critical")])
    assert await incidents(database) == [
        (1, "checkout: HighErrorRate and 1 other alert", "critical", "triggered", 2)
    ]


async def test_concurrent_deliveries_of_one_payload_make_one_incident(database: Database) -> None:
    ingestor = AlertIngestor(database, clock=lambda: T0)
    batch = [alert(f"A{i}", "checkout", i) for i in range(5)]
    results = await asyncio.gather(*(ingestor.ingest(batch) for _ in range(20)))
    assert sum(len(r.created_incidents) for r in results) == 1
    assert sum(r.new_alerts for r in results) == 5
    assert await incidents(database) == [
        (1, "checkout: A0 and 4 other alerts", "warning", "triggered", 5)
    ]
