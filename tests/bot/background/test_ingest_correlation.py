"""The grouping engine through ingestion, on SQLite and PostgreSQL: topology joins with their
reasons, root cause on the incident, merges, inhibition, reopening within the grace period."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from bot.background.ingest import AlertIngestor
from core.alerts import Alert, fingerprint, group_labels_of
from core.grouping_rules import GroupingRules
from core.topology import Service, Topology
from skills.views.incident_card import card_facts, incident_message
from storage.database import Database
from storage.models import IncidentRow

T0 = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)

# web -> checkout -> payments-api -> postgres-primary <- reports ; search-api -> elasticsearch
TOPOLOGY = Topology(
    [
        Service("web", team="edge", tier=1, depends_on=("checkout",)),
        Service("checkout", team="payments", tier=1, depends_on=("payments-api",)),
        Service("payments-api", team="payments", tier=2, depends_on=("postgres-primary",)),
        Service("reports", team="data", tier=3, depends_on=("postgres-primary",)),
        Service("postgres-primary", team="data", tier=1),
        Service("search-api", team="search", tier=2, depends_on=("elasticsearch",)),
        Service("elasticsearch", team="search", tier=2),
    ]
)


def alert(
    name: str, service: str, seconds: float = 0, severity: str = "warning", **labels: str
) -> Alert:
    all_labels = {"alertname": name, "service": service, "severity": severity}
    all_labels |= {"cluster": "eu"} | labels
    return Alert(
        fingerprint=fingerprint(all_labels),
        status="firing",
        starts_at=T0 + timedelta(seconds=seconds),
        ends_at=None,
        labels=all_labels,
        annotations={"summary": f"{name} on {service}"},
    )


def ingestor(database: Database, **rules: float) -> AlertIngestor:
    return AlertIngestor(
        database,
        rules=GroupingRules.model_validate(rules),
        topology=lambda: TOPOLOGY,
        clock=lambda: T0 + timedelta(minutes=5),
    )


async def incident_rows(database: Database) -> dict[int, IncidentRow]:
    async with database.unit_of_work() as uow:
        return {row.id: row for row in await uow.incidents.find(status="all")}


async def events(database: Database, incident_id: int) -> list[tuple[str, str]]:
    async with database.unit_of_work() as uow:
        return [(e.kind, e.text) for e in await uow.incidents.events(incident_id=incident_id)]


async def test_a_database_outage_is_one_incident_naming_the_database(database: Database) -> None:
    engine = ingestor(database)
    # Delivered in two batches, as Alertmanager's group_wait would.
    await engine.ingest(
        [
            alert("PostgresDown", "postgres-primary", 0, "critical"),
            alert("HighErrorRate", "payments-api", 25, "critical"),
        ]
    )
    result = await engine.ingest(
        [
            alert("SlowQueries", "reports", 30, "error"),
            alert("HighErrorRate", "checkout", 40, "critical"),
            alert("SLOBurn", "web", 70, "critical"),
        ]
    )
    assert result.created_incidents == []
    rows = await incident_rows(database)
    assert list(rows) == [1]
    incident = rows[1]
    assert incident.root_cause is not None
    assert incident.root_cause["service"] == "postgres-primary"
    assert incident.root_cause["confidence"] > 0.8
    assert incident.root_cause["in_catalog"] is True
    timeline = await events(database, 1)
    assert (
        "alert_joined",
        "Alert SlowQueries joined: depends on postgres-primary, 1 hop, 30 s after",
    ) in timeline
    assert any("HighErrorRate joined: depends on postgres-primary, 1 hop" in t for _, t in timeline)
    async with database.unit_of_work() as uow:
        facts = await card_facts(uow.alerts, [1])
    message = incident_message(incident, facts[1], T0).plain_text
    assert "Probable root cause: postgres-primary (failed first (03:00:00 UTC)" in message
    assert "confidence" in message


async def test_two_unrelated_outages_at_once_are_two_incidents(database: Database) -> None:
    engine = ingestor(database)
    await engine.ingest(
        [
            alert("PostgresDown", "postgres-primary", 0, "critical"),
            alert("ClusterRed", "elasticsearch", 10, "critical"),
            alert("HighErrorRate", "payments-api", 25, "critical"),
            alert("HighLatency", "search-api", 50, "error"),
        ]
    )
    rows = await incident_rows(database)
    assert len(rows) == 2
    causes = sorted(str((row.root_cause or {}).get("service")) for row in rows.values())
    assert causes == ["elasticsearch", "postgres-primary"]


async def test_symptoms_that_alerted_first_are_merged_when_the_cause_alerts(
    database: Database,
) -> None:
    engine = ingestor(database)
    await engine.ingest([alert("HighErrorRate", "payments-api", 0, "error")])
    await engine.ingest([alert("SlowQueries", "reports", 5, "error")])
    assert len(await incident_rows(database)) == 2
    result = await engine.ingest([alert("PostgresDown", "postgres-primary", 60, "critical")])
    assert result.merged_incidents == {2: 1}
    rows = await incident_rows(database)
    assert rows[2].status == "resolved" and rows[2].merged_into == 1
    assert rows[1].status == "triggered"
    assert rows[1].root_cause is not None and rows[1].root_cause["service"] == "postgres-primary"
    async with database.unit_of_work() as uow:
        moved = await uow.alerts.for_incident(incident_id=1)
        assert await uow.alerts.for_incident(incident_id=2) == []
    assert sorted(a.name for a in moved) == ["HighErrorRate", "PostgresDown", "SlowQueries"]
    timeline = await events(database, 1)
    assert [kind for kind, _ in timeline].count("opened") == 2  # INC-2's history moved along
    assert any(
        kind == "merged" and text.startswith("INC-2 merged into INC-1") for kind, text in timeline
    )
    assert [kind for kind, _ in await events(database, 2)] == ["merged"]


async def test_downstream_warnings_are_attached_as_suppressed_and_the_card_stays_current(
    database: Database,
) -> None:
    """A suppressed symptom pages nobody, but the card counts it: its revision moves (an
    edit of the card notifies nobody), so the card never says fewer alerts than `show`."""
    engine = ingestor(database)
    await engine.ingest([alert("PostgresDown", "postgres-primary", 0, "critical")])
    before = (await incident_rows(database))[1].revision
    result = await engine.ingest([alert("LatencyHigh", "checkout", 40, "warning")])
    assert result.changed_incidents == {1}
    after = (await incident_rows(database))[1]
    assert after.revision == before + 1
    async with database.unit_of_work() as uow:
        [_, symptom] = await uow.alerts.for_incident(incident_id=1)
    assert symptom.suppressed_by == "postgres-primary"
    kind, text = (await events(database, 1))[-1]
    assert kind == "alert_suppressed"
    assert text.endswith("— suppressed: downstream of postgres-primary")
    # An error on the same service is no symptom to hide.
    await engine.ingest([alert("HighErrorRate", "checkout", 60, "error")])
    async with database.unit_of_work() as uow:
        rows = await uow.alerts.for_incident(incident_id=1)
    assert [row.suppressed_by for row in rows] == [None, "postgres-primary", None]
    assert (await incident_rows(database))[1].revision == before + 2


async def test_a_late_alert_reopens_within_the_grace_period_only(database: Database) -> None:
    engine = ingestor(database, reopen_grace_minutes=10)
    first = alert("PostgresDown", "postgres-primary", 0, "critical")
    await engine.ingest([first])
    async with database.unit_of_work() as uow:
        row = await uow.incidents.get(incident_id=1)
        assert row is not None
        row.status, row.resolved_at = "resolved", T0 + timedelta(minutes=2)
    # Re-fires 5 minutes after the incident resolved: the same incident, triggered again.
    refire = replace(first, starts_at=T0 + timedelta(minutes=7))
    result = await engine.ingest([refire])
    assert result.created_incidents == [] and result.reopened_incidents == {1}
    reopened = (await incident_rows(database))[1]
    assert (reopened.status, reopened.resolved_at) == ("triggered", None)
    kind, text = (await events(database, 1))[-1]
    assert kind == "reopened"
    assert text == "Alert PostgresDown reopened: same alert fingerprint, 5 min after it resolved"
    # Resolved again; a re-fire after the grace period opens a new incident.
    async with database.unit_of_work() as uow:
        row = await uow.incidents.get(incident_id=1)
        assert row is not None
        row.status, row.resolved_at = "resolved", T0 + timedelta(minutes=8)
    late = replace(first, starts_at=T0 + timedelta(minutes=30))
    assert (await engine.ingest([late])).created_incidents == [2]
    assert (await incident_rows(database))[1].status == "resolved"


async def test_a_flapping_cause_reopens_and_takes_back_its_symptoms_incident(
    database: Database,
) -> None:
    """postgres fires and resolves (its incident with it); payments-api starts failing in
    the gap and opens INC-2; postgres fires again: INC-1 reopens and INC-2 is merged into it."""
    engine = ingestor(database)
    first = alert("PostgresDown", "postgres-primary", 0, "critical")
    await engine.ingest([first])
    await engine.ingest([replace(first, status="resolved", ends_at=T0 + timedelta(seconds=60))])
    assert (await incident_rows(database))[1].status == "resolved"
    await engine.ingest([alert("HighErrorRate", "payments-api", 90, "error")])
    refire = replace(first, starts_at=T0 + timedelta(seconds=150))
    result = await engine.ingest([refire])
    assert result.created_incidents == []
    assert result.reopened_incidents == {1} and result.merged_incidents == {2: 1}
    rows = await incident_rows(database)
    assert (rows[1].status, rows[1].resolved_at) == ("triggered", None)
    assert rows[2].merged_into == 1
    async with database.unit_of_work() as uow:
        moved = await uow.alerts.for_incident(incident_id=1)
        firing = [a.name for a in moved if a.status == "firing"]
    assert sorted(firing) == ["HighErrorRate", "PostgresDown"]
    text = next(t for k, t in await events(database, 1) if k == "reopened")
    assert text.startswith("Alert PostgresDown reopened: same alert fingerprint")
    assert "merged INC-2 (payments-api depends on it, 1 hop, 60 s after)" in text


async def test_a_coarse_group_key_never_joins_what_the_evidence_keeps_apart(
    database: Database,
) -> None:
    """A route without `group_by` sends every alert as `{}:{}`: with an always-firing
    Watchdog in that group, other clusters' alerts hours later still open incidents (and so
    get messages) of their own."""
    key = "{}:{}"
    engine = ingestor(database)

    def keyed(item: Alert) -> Alert:
        return replace(item, group_key=key, group_labels=group_labels_of(key))

    await engine.ingest([keyed(alert("Watchdog", "prometheus", 0, severity="none"))])
    later = keyed(alert("DiskFull", "reports", 3 * 3600, cluster="us"))
    assert (await engine.ingest([later])).created_incidents == [2]
    other = keyed(alert("HighLatency", "search-api", 3 * 3600 + 60, cluster="ap"))
    assert (await engine.ingest([other])).created_incidents == [3]


async def test_a_group_key_naming_an_instance_joins_within_the_window(
    database: Database,
) -> None:
    key = '{}:{instance="db-1:9100"}'
    engine = ingestor(database)

    def keyed(item: Alert) -> Alert:
        return replace(item, group_key=key, group_labels=group_labels_of(key))

    first = keyed(alert("DiskFull", "search-api", 0, instance="db-1:9100"))
    await engine.ingest([first])
    near = keyed(alert("MemoryHigh", "mailer", 120, instance="db-1:9100"))
    assert (await engine.ingest([near])).created_incidents == []
    text = next(t for k, t in reversed(await events(database, 1)) if k == "alert_joined")
    assert text.endswith("joined: same Alertmanager group")
    # Still firing, but the group has been quiet for longer than the window: a new outage.
    late = keyed(alert("CPUHot", "elasticsearch", 40 * 60, instance="db-1:9100"))
    assert (await engine.ingest([late])).created_incidents == [2]
