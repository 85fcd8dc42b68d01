"""Incidents stay true under what real senders do (SQLite and PostgreSQL): alert identity
across deliveries, the two clocks of a reopen, service label conventions, values no column
can refuse, and notifications that arrive already resolved."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from bot.background.ingest import AlertIngestor
from core.alerts import Alert, fingerprint, group_labels_of, parse_delivery
from core.grouping_rules import GroupingRules
from storage.database import Database
from storage.models import IncidentRow

T0 = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def alert(name: str, service: str | None, minutes: float = 0, **labels: str) -> Alert:
    all_labels = {"alertname": name, "severity": "critical", **labels}
    if service:
        all_labels["service"] = service
    return Alert(
        fingerprint=fingerprint(all_labels),
        status="firing",
        starts_at=T0 + timedelta(minutes=minutes),
        ends_at=None,
        labels=all_labels,
        annotations={"summary": f"{name} summary"},
    )


def resolved(item: Alert, minutes: float, starts_minutes: float | None = None) -> Alert:
    starts = item.starts_at if starts_minutes is None else T0 + timedelta(minutes=starts_minutes)
    return replace(
        item, status="resolved", starts_at=starts, ends_at=T0 + timedelta(minutes=minutes)
    )


async def incident(database: Database, incident_id: int) -> IncidentRow:
    async with database.unit_of_work() as uow:
        row = await uow.incidents.get(incident_id=incident_id)
    assert row is not None
    return row


async def statuses(database: Database, incident_id: int) -> list[str]:
    async with database.unit_of_work() as uow:
        return [row.status for row in await uow.alerts.for_incident(incident_id=incident_id)]


async def test_a_refire_with_the_same_starts_at_reopens_the_incident(database: Database) -> None:
    """firing(X, T) → resolved(X, T) → firing(X, T), as Alertmanager sends when it re-creates
    an alert whose evaluation was a second late (or an HA peer re-sends): the firing alert is
    never left inside a resolved incident."""
    clock = Clock()
    engine = AlertIngestor(database, clock=clock)
    first = alert("PostgresDown", "postgres")
    await engine.ingest([first])
    clock.now = T0 + timedelta(minutes=5)
    await engine.ingest([resolved(first, 5)])
    assert (await incident(database, 1)).status == "resolved"
    clock.now = T0 + timedelta(minutes=6)
    result = await engine.ingest([first])
    assert result.reopened_incidents == {1} and result.created_incidents == []
    row = await incident(database, 1)
    assert (row.status, row.episode) == ("triggered", 2)
    assert sorted(await statuses(database, 1)) == ["firing", "resolved"]
    # The same notification again changes nothing.
    again = await engine.ingest([first])
    assert (again.new_alerts, again.unchanged_alerts) == (0, 1)


async def test_a_resolve_ends_the_firing_alert_whatever_its_starts_at(database: Database) -> None:
    """Grafana 12 resolve notifications can carry a rewritten startsAt."""
    engine = AlertIngestor(database, clock=Clock())
    first = alert("HighLatency", "checkout")
    await engine.ingest([first])
    result = await engine.ingest([resolved(first, 7, starts_minutes=3)])
    assert result.updated_alerts == 1
    assert await statuses(database, 1) == ["resolved"]
    assert (await incident(database, 1)).status == "resolved"


async def test_a_stale_resolve_does_not_end_a_later_occurrence(database: Database) -> None:
    clock = Clock()
    engine = AlertIngestor(database, clock=clock)
    first = alert("QueueStuck", "orders")
    await engine.ingest([first])
    await engine.ingest([resolved(first, 2)])
    clock.now = T0 + timedelta(minutes=4)
    await engine.ingest([replace(first, starts_at=T0 + timedelta(minutes=4))])
    # A peer re-sends the old resolve (it ended before the new occurrence began).
    stale = await engine.ingest([resolved(first, 2)])
    assert stale.updated_alerts == 0
    assert sorted(await statuses(database, 1)) == ["firing", "resolved"]
    assert (await incident(database, 1)).status == "triggered"


async def test_an_incident_resolved_days_ago_is_not_reopened_by_a_late_arrival(
    database: Database,
) -> None:
    """Event time before a wall-clock resolution used to count as within the grace: an alert
    sent days later with an old startsAt reopened a days-old incident "0 s after it
    resolved". Each clock is compared with itself."""
    clock = Clock()
    engine = AlertIngestor(database, clock=clock)
    first = alert("HighErrorRate", "checkout", 0)
    await engine.ingest([first])
    clock.now = T0 + timedelta(minutes=20)
    await engine.ingest([resolved(first, 15)])
    clock.now = T0 + timedelta(days=3)
    late = replace(first, starts_at=T0 + timedelta(minutes=10))
    result = await engine.ingest([late])
    assert result.reopened_incidents == set() and result.created_incidents == [2]
    assert (await incident(database, 1)).status == "resolved"


async def test_a_flap_seen_only_resolved_is_kept_but_names_nothing(database: Database) -> None:
    """An alert that arrives already resolved and was never seen firing joins only the
    incident holding its fingerprint, and never gives an incident its name or service."""
    clock = Clock()
    engine = AlertIngestor(database, clock=clock)
    key = '{}:{service="checkout"}'

    def keyed(item: Alert) -> Alert:
        return replace(item, group_key=key, group_labels=group_labels_of(key))

    await engine.ingest([keyed(alert("HighLatency", "checkout", 0))])
    stranger = keyed(alert("DiskFull", "checkout", 1))
    bigger = [
        resolved(replace(stranger, fingerprint=f"{n:016x}", labels={**stranger.labels}), 2)
        for n in range(3)
    ]
    result = await engine.ingest(bigger)
    assert result.new_alerts == 3
    row = await incident(database, 1)
    assert row.title == "checkout: HighLatency" and row.service == "checkout"
    async with database.unit_of_work() as uow:
        orphans = await uow.alerts.latest(fingerprints=[item.fingerprint for item in bigger])
    assert {(o.incident_id, o.seen_firing) for o in orphans.values()} == {(None, False)}


async def test_service_label_conventions_name_the_service(database: Database) -> None:
    """OpenTelemetry (`service.name`, `service_name`) and Kubernetes
    (`app.kubernetes.io/name`) labels name the service; two alerts of one such service a
    minute apart are one incident named after it."""
    engine = AlertIngestor(database, clock=Clock())
    for number, label in enumerate(("service.name", "service_name", "app.kubernetes.io/name")):
        body = {
            "alerts": [
                {
                    "labels": {"alertname": name, label: f"svc-{number}", "severity": "warning"},
                    "startsAt": (T0 + timedelta(hours=number, minutes=minute)).isoformat(),
                }
                for minute, name in ((0, "HighErrorRate"), (1, "HighLatency"))
            ]
        }
        result = await engine.ingest(parse_delivery(body).alerts)
        [created] = result.created_incidents
        row = await incident(database, created)
        assert row.service == f"svc-{number}"
        assert row.title == f"svc-{number}: HighErrorRate and 1 other alert"


async def test_the_service_labels_are_configurable(database: Database) -> None:
    rules = GroupingRules(service_labels=("team_service", "service"))
    body = {
        "alerts": [
            {
                "labels": {"alertname": "X", "team_service": "ledger", "service": "k8s-svc"},
                "startsAt": T0.isoformat(),
            }
        ]
    }
    alerts = parse_delivery(body, service_labels=rules.service_labels).alerts
    engine = AlertIngestor(database, rules=rules, clock=Clock())
    await engine.ingest(alerts)
    assert (await incident(database, 1)).service == "ledger"


async def test_values_no_column_can_refuse(database: Database) -> None:
    """A 283-character `job` label failed a whole PostgreSQL batch (varchar(255)); NUL
    characters and lone surrogates are refused by PostgreSQL too. Every value the webhook
    accepts is stored, and the labels keep everything as sent."""
    long_job = "kubernetes-service-endpoints-" + "x" * 254
    body = {
        "groupKey": "{}:{job=" + '"' + long_job + '"' + ", pad=" + '"' + "y" * 3000 + '"}',
        "alerts": [
            {
                "labels": {"alertname": "Up" * 200, "job": long_job, "note": "nul\x00 \ud800"},
                "annotations": {"summary": "s" * 100_000},
                "startsAt": T0.isoformat(),
            },
            {"labels": {"alertname": "Healthy", "service": "ok"}, "startsAt": T0.isoformat()},
        ],
    }
    delivery = parse_delivery(body)
    engine = AlertIngestor(database, clock=Clock())
    result = await engine.ingest(delivery.alerts)
    # Both are of the group `{job=…}`, which names a service: one incident.
    assert result.new_alerts == 2 and result.created_incidents == [1]
    async with database.unit_of_work() as uow:
        rows = await uow.alerts.for_incidents(incident_ids=result.created_incidents)
    stored = {row.labels["alertname"]: row for items in rows.values() for row in items}
    long_row = stored["Up" * 200]
    assert long_row.labels["job"] == long_job and len(long_row.service or "") == 255
    assert long_row.labels["note"] == "nul\ufffd \ufffd"
    assert len(long_row.annotations["summary"]) == 100_000
    # The same long key and service group the next delivery with the first.
    again = await engine.ingest(parse_delivery(body).alerts)
    assert again.new_alerts == 0 and again.unchanged_alerts == 2
