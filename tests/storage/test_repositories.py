"""Repositories on a real SQLite file and on PostgreSQL at 127.0.0.1:5432 when it answers."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy.exc import IntegrityError

from core.alerts import Alert, fingerprint
from core.grouping_rules import GroupingRules
from core.incident_state import IncidentState
from storage.database import Database

T0 = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)


def alert(name: str = "HighErrorRate", service: str = "checkout", minutes: int = 0) -> Alert:
    labels = {"alertname": name, "service": service, "severity": "critical"}
    return Alert(
        fingerprint=fingerprint(labels),
        status="firing",
        starts_at=T0 + timedelta(minutes=minutes),
        ends_at=None,
        labels=labels,
        annotations={"summary": "5xx above 5%"},
        group_key='{}:{service="checkout"}',
        group_labels={"service": "checkout"},
    )


async def new_incident(database: Database, title: str = "checkout: HighErrorRate") -> int:
    async with database.unit_of_work() as uow:
        incident = await uow.incidents.create(
            title=title, severity="critical", service="checkout", first_alert_at=T0, now=T0
        )
        return incident.id


async def test_migrations_are_current(database: Database) -> None:
    assert await database.current_revision() == Database.head_revision()


async def test_alerts_are_unique_by_fingerprint_and_occurrence(database: Database) -> None:
    incident_id = await new_incident(database)
    async with database.unit_of_work() as uow:
        await uow.alerts.add(alert=alert(), incident_id=incident_id, now=T0)
    with pytest.raises(IntegrityError):
        async with database.unit_of_work() as uow:
            await uow.alerts.add(alert=alert(minutes=5), incident_id=incident_id, now=T0)
            await uow.flush()
    async with database.unit_of_work() as uow:
        # The same startsAt again is fine as a later occurrence (Alertmanager re-creates an
        # alert with its old startsAt when an evaluation is late).
        await uow.alerts.add(alert=alert(), incident_id=incident_id, now=T0, occurrence=2)
        found = await uow.alerts.latest(fingerprints=[alert().fingerprint, "unknown"])
    assert list(found) == [alert().fingerprint]
    assert found[alert().fingerprint].occurrence == 2


async def test_times_come_back_as_aware_utc(database: Database) -> None:
    incident_id = await new_incident(database)
    eastern = timezone(timedelta(hours=-5))
    async with database.unit_of_work() as uow:
        await uow.incidents.add_event(
            incident_id=incident_id,
            kind="note",
            text="x",
            at=datetime(2026, 1, 1, 7, tzinfo=eastern),
        )
    async with database.unit_of_work() as uow:
        [event] = await uow.incidents.events(incident_id=incident_id)
    assert event.at == datetime(2026, 1, 1, 12, tzinfo=UTC)
    assert event.at.tzinfo is not None and event.at.utcoffset() == timedelta(0)


async def test_grouping_states_summarize_like_the_engine_does(database: Database) -> None:
    """The SQL aggregates give the same `IncidentState` as absorbing the alerts one by one."""
    rules = GroupingRules()
    open_id = await new_incident(database)
    recent = await new_incident(database, "payments: X")
    old = await new_incident(database, "payments: Y")
    merged = await new_incident(database, "payments: Z")
    mine = [
        labelled("HighErrorRate", "checkout", 0, "critical", cluster="eu"),
        labelled("Latency", "checkout", 3, "warning", cluster="us"),
        labelled("PostgresDown", "postgres", 1, "critical", cluster="eu"),
        labelled("DiskFull", None, 2, "warning", host="db-1"),
    ]
    async with database.unit_of_work() as uow:
        for item in mine:
            await uow.alerts.add(alert=item, incident_id=open_id, now=T0)
        await uow.alerts.add(alert=alert("X", "payments"), incident_id=recent, now=T0)
        for incident_id, resolved_at in ((recent, 20), (old, -30), (merged, 20)):
            row = await uow.incidents.get(incident_id=incident_id)
            assert row is not None
            row.status = "resolved"
            row.resolved_at = T0 + timedelta(minutes=resolved_at)
            row.merged_into = open_id if incident_id == merged else None
    async with database.unit_of_work() as uow:
        states = await uow.grouping.states(
            rules=rules,
            fingerprints=[mine[1].fingerprint, "unknown"],
            group_keys=['{}:{service="checkout"}'],
            earliest=T0 + timedelta(minutes=5),
            latest=T0 + timedelta(minutes=6),
            inhibitors={"checkout", "postgres"},
            now=T0 + timedelta(minutes=6),
        )
    by_id = {state.id: state for state in states}
    assert set(by_id) == {open_id, recent}
    expected = IncidentState.start(open_id, mine[0], rules)
    for item in mine[1:]:
        expected.absorb(item, rules)
    found = by_id[open_id]
    assert found.fingerprints == {mine[1].fingerprint}
    group = found.groups['{}:{service="checkout"}']
    assert group.last_alert_at == T0 + timedelta(minutes=3)
    assert group.scope == {"cluster": {"eu", "us", ""}}
    assert found.groups == expected.groups
    assert found.label_keys == expected.label_keys
    assert found.services == expected.services
    assert found.resolved_at is None
    assert by_id[recent].resolved_at == T0 + timedelta(minutes=20)


def labelled(name: str, service: str | None, minutes: int, severity: str, **labels: str) -> Alert:
    all_labels = {"alertname": name, "severity": severity, **labels}
    if service:
        all_labels["service"] = service
    return Alert(
        fingerprint=fingerprint(all_labels),
        status="firing",
        starts_at=T0 + timedelta(minutes=minutes),
        ends_at=None,
        labels=all_labels,
        annotations={},
        group_key='{}:{service="checkout"}',
        group_labels={"service": "checkout"},
    )


async def test_incident_listing_filters(database: Database) -> None:
    first = await new_incident(database)
    second = await new_incident(database, "payments: X")
    async with database.unit_of_work() as uow:
        row = await uow.incidents.get(incident_id=first)
        assert row is not None
        row.status = "resolved"
    async with database.unit_of_work() as uow:
        assert [r.id for r in await uow.incidents.find(status="open")] == [second]
        assert [r.id for r in await uow.incidents.find(status="all")] == [second, first]
        assert [r.id for r in await uow.incidents.find(status="resolved")] == [first]
        assert await uow.incidents.count_open() == 1


async def test_the_service_filter_sees_every_service_of_an_incidents_alerts(
    database: Database,
) -> None:
    filed = await new_incident(database)  # filed under checkout
    async with database.unit_of_work() as uow:
        created = await uow.incidents.create(
            title="search: Down", severity="critical", service="search", first_alert_at=T0, now=T0
        )
        other = created.id
    async with database.unit_of_work() as uow:
        await uow.alerts.add(alert=alert(), incident_id=filed, now=T0)
        await uow.alerts.add(alert=alert("Slow", "payments"), incident_id=filed, now=T0)
        await uow.alerts.add(alert=alert("Down", "search"), incident_id=other, now=T0)
    async with database.unit_of_work() as uow:
        assert [r.id for r in await uow.incidents.find(service="checkout")] == [filed]
        assert [r.id for r in await uow.incidents.find(service="payments")] == [filed]
        assert [r.id for r in await uow.incidents.find(service="search")] == [other]
        assert await uow.incidents.find(service="web") == []


async def test_chat_thread_claim_is_exclusive(database: Database) -> None:
    incident_id = await new_incident(database)

    async def claim() -> bool:
        async with database.unit_of_work() as uow:
            row = await uow.threads.claim(
                incident_id=incident_id, platform="slack", channel="#incidents", now=T0
            )
            return row is not None

    results = await asyncio.gather(*(claim() for _ in range(5)), return_exceptions=True)
    wins = [r for r in results if r is True]
    assert len(wins) == 1, results
    async with database.unit_of_work() as uow:
        row = await uow.threads.get(incident_id=incident_id, platform="slack")
        assert row is not None
        await uow.threads.record_posted(
            row=row,
            message_id="1700000000.000100",
            thread_id="1700000000.000100",
            revision=1,
            now=T0,
        )
    async with database.unit_of_work() as uow:
        found = await uow.threads.find_by_message(platform="slack", message_id="1700000000.000100")
        assert found is not None and found.incident_id == incident_id
        assert [i.id for i in await uow.incidents.changed_since(platform="slack")] == []
        assert [i.id for i in await uow.incidents.changed_since(platform="teams")] == [incident_id]


async def test_users_get_the_default_role_once(database: Database) -> None:
    async with database.unit_of_work() as uow:
        user = await uow.users.ensure(
            platform="slack",
            platform_user_id="U1",
            display_name="Ann",
            default_role="responder",
            now=T0,
        )
        assert user.role == "responder"
        await uow.users.set_role(platform="slack", platform_user_id="U1", role="viewer")
    async with database.unit_of_work() as uow:
        again = await uow.users.ensure(
            platform="slack",
            platform_user_id="U1",
            display_name="Ann B",
            default_role="admin",
            now=T0,
        )
        assert (again.role, again.display_name) == ("viewer", "Ann B")
        other = await uow.users.ensure(
            platform="teams",
            platform_user_id="U1",
            display_name="Other",
            default_role="admin",
            now=T0,
        )
        assert other.role == "admin" and other.id != again.id


async def test_audit_log_keeps_actions_in_order(database: Database) -> None:
    async with database.unit_of_work() as uow:
        for action in ("ack", "resolve"):
            await uow.audit.record(
                at=T0,
                platform="slack",
                user_id="U1",
                user_name="Ann",
                action=action,
                outcome="ok",
                target="INC-1",
                detail={"command": action},
            )
    async with database.unit_of_work() as uow:
        rows = await uow.audit.recent(limit=10)
        only = await uow.audit.recent(action="ack")
    assert [r.action for r in rows] == ["resolve", "ack"]
    assert [r.detail for r in only] == [{"command": "ack"}]


async def test_console_messages_and_threads(database: Database) -> None:
    async with database.unit_of_work() as uow:
        root = await uow.console.add(
            channel="#incidents",
            author="Lookout",
            author_kind="bot",
            body={"blocks": []},
            now=T0,
            incident_id=1,
        )
        await uow.console.add(
            channel="#incidents",
            author="alice",
            author_kind="user",
            body={"blocks": []},
            now=T0,
            thread_id=root.id,
        )
    async with database.unit_of_work() as uow:
        roots = await uow.console.in_channel(channel="#incidents")
        replies = await uow.console.in_channel(channel="#incidents", thread_id=root.id)
        counts = await uow.console.reply_counts(message_ids=[root.id])
        await uow.console.replace_body(message_id=root.id, body={"blocks": [1]}, now=T0)
    assert [r.id for r in roots] == [root.id] and len(replies) == 1
    assert counts == {root.id: 1}
    async with database.unit_of_work() as uow:
        again = await uow.console.get(message_id=root.id)
        assert again is not None and again.body == {"blocks": [1]}
        assert await uow.console.channels() == ["#incidents"]


async def test_old_severe_alerts_count_only_for_possible_inhibitors(database: Database) -> None:
    incident_id = await new_incident(database)
    old = labelled("PostgresDown", "postgres", -60, "critical", cluster="eu")
    async with database.unit_of_work() as uow:
        await uow.alerts.add(alert=old, incident_id=incident_id, now=T0)
        await uow.alerts.add(
            alert=labelled("Latency", "checkout", 0, "warning", cluster="eu"),
            incident_id=incident_id,
            now=T0,
        )

    async def postgres_scope(inhibitors: set[str]) -> dict[str, set[str]]:
        async with database.unit_of_work() as uow:
            [state] = await uow.grouping.states(
                rules=GroupingRules(),
                fingerprints=[],
                group_keys=[],
                earliest=T0,
                latest=T0,
                inhibitors=inhibitors,
                now=T0,
            )
        return state.services["postgres"].severe_scope if "postgres" in state.services else {}

    assert await postgres_scope({"postgres"}) == {"cluster": {"eu"}}
    assert await postgres_scope(set()) == {}  # an hour old, and nothing it could inhibit
