"""blast-radius, topology, timeline, note, status, stats, merge and split through the real
dispatcher, on a real SQLite file, with a service catalog."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.background.ingest import AlertIngestor
from core.topology import Service, Topology
from skills.catalog import default_registry
from skills.contract import Image, Reply, Role, Table
from skills.dispatcher import AccessPolicy, Dispatcher
from skills.views.incident_card import incident_buttons
from storage.database import Database
from tests.conftest import database_url_for
from tests.skills.conftest import Clock, Harness, make_alert, text_of

# web -> checkout -> payments-api -> postgres-primary <- reports ; mailer alone
TOPOLOGY = Topology(
    [
        Service("web", team="edge", tier=1, depends_on=("checkout",), users=90_000),
        Service("checkout", team="payments", tier=1, depends_on=("payments-api",)),
        Service(
            "payments-api",
            team="payments",
            tier=2,
            depends_on=("postgres-primary",),
            revenue_per_hour=12_000,
        ),
        Service("reports", team="data", tier=3, depends_on=("postgres-primary",)),
        Service("postgres-primary", team="data", tier=1),
        Service("mailer", team="growth", tier=3),
    ]
)


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[Harness]:
    """The skills harness, with the catalog above behind ingestion and skills."""
    database = Database(database_url_for(tmp_path))
    await database.upgrade()
    clock = Clock()
    dispatcher = Dispatcher(
        registry=default_registry(),
        database=database,
        access=AccessPolicy(default_role=Role.RESPONDER),
        clock=clock,
        topology=lambda: TOPOLOGY,
    )
    ingestor = AlertIngestor(database, clock=clock, topology=lambda: TOPOLOGY)
    yield Harness(database, dispatcher, ingestor, clock)
    await database.dispose()


async def outage(world: Harness) -> None:
    """A database outage: the database, then its dependents, as one incident (INC-1)."""
    await world.ingestor.ingest(
        [
            make_alert("PostgresDown", "postgres-primary", "critical", 0),
            make_alert("HighErrorRate", "payments-api", "critical", 0.5),
            make_alert("SlowReports", "reports", "error", 1),
        ]
    )


def table_of(reply: Reply) -> Table:
    return next(block for block in reply.blocks if isinstance(block, Table))


async def test_blast_radius_of_a_service_with_statuses_and_a_picture(world: Harness) -> None:
    await outage(world)
    reply = await world.say("blast-radius postgres-primary")
    text = text_of(reply)
    assert "postgres-primary: 4 dependent services (2 failing), up to 3 hops" in text
    assert "at least 90,000 users, at least 12,000/h revenue" in text
    rows = {row[0]: row for row in table_of(reply).rows}
    assert rows["payments-api"][1:] == ("1", "postgres-primary", "2", "payments", "🔴 failing")
    assert rows["web"][1:4] == ("3", "checkout", "1")
    assert rows["web"][5] == "🟢 healthy"
    [image] = [block for block in reply.blocks if isinstance(block, Image)]
    assert image.png.startswith(b"\x89PNG\r\n\x1a\n") and len(image.png) > 5_000


async def test_blast_radius_in_an_incident_thread_follows_its_root_cause(world: Harness) -> None:
    await outage(world)
    reply = await world.say("blast-radius", incident_id=1)
    text = text_of(reply)
    assert "**Blast radius of postgres-primary** (INC-1)" in text
    assert "Live tracker in INC-1's thread, updated as dependents degrade or recover." in text
    assert [type(block).__name__ for block in reply.blocks] == ["Text", "Text", "Image", "Context"]
    assert reply.incident_id == 1
    same = text_of(await world.say("blast-radius --incident INC-1"))
    assert same == text
    async with world.database.unit_of_work() as uow:
        [tracker] = await uow.trackers.for_incident(incident_id=1)
    shown = tracker.snapshot
    assert (tracker.service, tracker.platform, tracker.live) == ("postgres-primary", "test", True)
    assert shown["statuses"] == {"payments-api": "failing", "reports": "failing"}
    assert shown["propagation"] == [
        "2026-11-22T02:50:00Z postgres-primary failed",
        "2026-11-22T02:50:30Z payments-api failed, 30 s after postgres-primary",
        "2026-11-22T02:51:00Z reports failed, 60 s after postgres-primary",
    ]


async def test_an_incident_reference_where_the_service_goes_means_that_incident(
    world: Harness,
) -> None:
    await outage(world)
    expected = text_of(await world.say("blast-radius --incident INC-1"))
    for typed in ("blast-radius INC-1", "blast-radius #1", "blast-radius inc1"):
        assert text_of(await world.say(typed)) == expected, typed
    assert text_of(await world.say("blast-radius INC-4")) == "There is no incident INC-4."
    both = text_of(await world.say("blast-radius INC-1 --incident INC-1"))
    assert both.startswith("Both `INC-1` and `--incident INC-1` name incidents")
    async with world.database.unit_of_work() as uow:
        assert len(await uow.trackers.for_incident(incident_id=1)) == 1


async def test_no_tracker_for_a_service_nothing_depends_on(world: Harness) -> None:
    await world.ingestor.ingest([make_alert("QueueStuck", "mailer", "critical")])
    reply = await world.say("blast-radius", incident_id=1)
    text = text_of(reply)
    assert "Nothing in the catalog depends on mailer." in text
    assert "Live tracker" not in text
    assert "mailer: 0 dependent services; users and revenue unknown" in text
    async with world.database.unit_of_work() as uow:
        assert await uow.trackers.for_incident(incident_id=1) == []


async def test_blast_radius_of_a_resolved_incident_answers_once(world: Harness) -> None:
    await outage(world)
    await world.say("resolve INC-1")
    reply = await world.say("blast-radius --incident INC-1")
    text = text_of(reply)
    assert "**Blast radius of postgres-primary** (INC-1)" in text
    assert "**Propagation**" in text
    assert "02:50:30 UTC payments-api failed, 30 s after postgres-primary" in text
    assert "Live tracker" not in text
    rows = {row[0]: row for row in table_of(reply).rows}
    assert rows["payments-api"][5] == "🟢 healthy"  # its alerts left with the incident
    async with world.database.unit_of_work() as uow:
        assert await uow.trackers.for_incident(incident_id=1) == []


async def test_blast_radius_what_if_and_unknown_services(world: Harness) -> None:
    what_if = text_of(await world.say("blast-radius payments-api --what-if"))
    assert "What if payments-api failed?" in what_if
    assert "\n2 dependent services, up to 2 hops" in what_if
    assert what_if.count("What if") == 1  # the question is asked once
    assert "did you mean payments-api" in text_of(await world.say("blast-radius payment-api"))
    asked = text_of(await world.say("blast-radius"))
    assert asked.startswith("Which service?")


async def test_blast_radius_without_a_catalog_says_how_to_get_one(harness: Harness) -> None:
    reply = text_of(await harness.say("blast-radius postgres"))
    assert reply.startswith("Lookout knows no services yet")


async def test_the_incident_message_offers_the_blast_radius(world: Harness) -> None:
    await outage(world)
    async with world.database.unit_of_work() as uow:
        incident = await uow.incidents.get(incident_id=1)
    assert incident is not None
    buttons = {b.label: b.command for b in incident_buttons(incident).buttons}
    assert buttons["Blast radius"] == "blast-radius --incident INC-1"
    clicked = await world.say(buttons["Blast radius"])
    assert "Blast radius of postgres-primary" in text_of(clicked)


async def test_topology_shows_neighbours_both_ways(world: Harness) -> None:
    reply = await world.say("topology checkout --hops 2")
    rows = table_of(reply).rows
    assert [(r[0], r[1], r[2]) for r in rows] == [
        ("depends on", "payments-api", "1"),
        ("depends on", "postgres-primary", "2"),
        ("used by", "web", "1"),
    ]
    assert "checkout** (team payments; tier 1)" in text_of(reply)
    lonely = text_of(await world.say("topology mailer"))
    assert "mailer has no known dependencies or dependents" in lonely


async def test_counts_take_the_number_of_their_noun(world: Harness) -> None:
    one = text_of(await world.say("topology checkout --hops 1"))
    assert "1 upstream and 1 downstream within 1 hop · catalog of 6 services, 4 edges" in one
    assert "1 hops" not in one
    await outage(world)
    listed = text_of(await world.say("incidents"))
    assert "1 open incident" in listed and "1 open incidents" not in listed
    assert "last 1 day" in text_of(await world.say("stats --days 1"))
    assert "1 days" not in text_of(await world.say("stats --days 1"))


async def test_note_and_timeline(world: Harness) -> None:
    await outage(world)
    await world.say("ack INC-1", user="sam")
    noted = await world.say("note pool exhausted, restarting pgbouncer", incident_id=1)
    assert "Noted in INC-1's timeline" in text_of(noted)
    await world.say("note INC-1 pgbouncer restarted")
    assert "`text` is missing" in text_of(await world.say("note INC-1"))
    assert "Which incident?" in text_of(await world.say("note hello"))
    reply = await world.say("timeline INC-1")
    lines = text_of(reply).splitlines()
    assert lines[0] == "**INC-1 timeline** · postgres-primary: PostgresDown and 2 other alerts"
    assert lines[1].startswith("02:50:00 UTC ─┬─ 📋 **OPENED**  Opened by alert PostgresDown")
    assert "🚨 **ALERT**  Alert SlowReports joined: depends on postgres-primary, 1 hop" in lines[3]
    assert "👤 **ACKNOWLEDGED** by sam" in lines[4]
    assert lines[5].endswith("💬 **NOTE** by alice  pool exhausted, restarting pgbouncer")
    assert lines[6].endswith("💬 **NOTE** by alice  pgbouncer restarted")
    assert "MTTA" in lines[-1]


async def test_a_storm_folds_in_the_timeline(world: Harness) -> None:
    await world.ingestor.ingest(
        [make_alert(f"Disk{i}", "mailer", "warning", i / 10, disk=str(i)) for i in range(12)]
    )
    lines = text_of(await world.say("timeline INC-1")).splitlines()
    assert sum("**ALERT**" in line for line in lines) == 3
    assert any("… 8 more (alert) until" in line for line in lines)


async def test_status_moves_along_the_lifecycle_only(world: Harness) -> None:
    await outage(world)
    early = text_of(await world.say("status INC-1 investigating", user="sam"))
    assert early.startswith("INC-1 is triggered; it cannot become investigating")
    assert "Next: `ack INC-1` or `resolve INC-1`." in early
    await world.say("ack INC-1", user="sam")
    moved = await world.say("status INC-1 investigating", user="sam")
    assert text_of(moved) == "INC-1 is now **investigating** (sam)."
    assert "already acknowledged" in text_of(await world.say("ack INC-1"))
    assert "now **mitigated**" in text_of(await world.say("status mitigated", incident_id=1))
    again = text_of(await world.say("status INC-1 mitigated"))
    assert again == "INC-1 is already mitigated."
    back = text_of(await world.say("status INC-1 investigating"))
    assert back.startswith("INC-1 is mitigated; it cannot become investigating")
    assert "Next: `resolve INC-1`." in back
    await world.say("resolve INC-1")
    late = text_of(await world.say("status INC-1 investigating"))
    assert late.startswith("INC-1 is resolved; it cannot become investigating")
    typo = text_of(await world.say("status INC-1 fixed"))
    assert "`state` is one of investigating, mitigated, not `fixed`" in typo
    assert "Usage: `status" in typo


async def test_stats_give_mtta_mttr_and_noise_reduction(world: Harness) -> None:
    await outage(world)
    await world.ingestor.ingest([make_alert("Bounce", "mailer", "warning", 2)])
    world.clock.advance(minutes=2)
    await world.say("ack INC-1")
    world.clock.advance(minutes=8)
    await world.say("resolve INC-1")
    reply = await world.say("stats --days 7")
    text = text_of(reply)
    assert "Incidents: 2" in text and "Alerts: 4" in text
    assert "Alerts per incident: 2.0" in text and "Noise reduction: 50%" in text
    assert "MTTA p50 / p90: 2 min / 2 min (1 acknowledged)" in text
    assert "MTTR p50 / p90: 10 min / 10 min (1 resolved)" in text
    rows = table_of(reply).rows
    assert [row[:3] for row in rows] == [("mailer", "1", "1"), ("postgres-primary", "1", "3")]
    only = text_of(await world.say("stats --service mailer"))
    assert "Incidents: 1" in only


async def test_merge_folds_incidents_and_is_audited(world: Harness) -> None:
    await world.ingestor.ingest([make_alert("Bounce", "mailer", "warning", 0)])
    await world.ingestor.ingest([make_alert("SlowReports", "reports", "error", 1)])
    reply = await world.say("merge INC-1 INC-2", user="sam")
    assert text_of(reply).startswith("🔗 Merged INC-2 into **INC-1**")
    async with world.database.unit_of_work() as uow:
        first = await uow.incidents.get(incident_id=1)
        second = await uow.incidents.get(incident_id=2)
        alerts = await uow.alerts.for_incident(incident_id=1)
        audit = await uow.audit.recent(action="merge")
    assert first is not None and second is not None
    assert (second.status, second.merged_into) == ("resolved", 1)
    assert sorted(a.name for a in alerts) == ["Bounce", "SlowReports"]
    assert first.severity == "error" and first.root_cause is not None
    assert [(a.user_name, a.outcome, a.detail["command"]) for a in audit] == [
        ("sam", "ok", "merge INC-1 INC-2")
    ]
    merged_card = text_of(await world.say("show INC-2"))
    assert "Merged into INC-1" in merged_card
    again = text_of(await world.say("merge INC-1 INC-2"))
    assert again == "INC-2 is already merged into INC-1."
    assert "cannot be merged into itself" in text_of(await world.say("merge INC-1 INC-1"))


async def test_split_takes_alerts_into_a_new_incident(world: Harness) -> None:
    await outage(world)
    reply = await world.say("split INC-1 SlowReports", user="sam")
    assert text_of(reply) == "✂️ Split 1 alert (SlowReports) of INC-1 into **INC-2**."
    async with world.database.unit_of_work() as uow:
        first = await uow.incidents.get(incident_id=1)
        second = await uow.incidents.get(incident_id=2)
        moved = await uow.alerts.for_incident(incident_id=2)
        events = [e.kind for e in await uow.incidents.events(incident_id=2)]
    assert first is not None and second is not None
    assert [a.name for a in moved] == ["SlowReports"]
    assert (second.title, second.severity, second.status) == (
        "reports: SlowReports",
        "error",
        "triggered",
    )
    assert events == ["alert_joined", "split"]  # the alert's own history moved along
    assert first.title == "postgres-primary: PostgresDown and 1 other alert"
    fingerprint = moved[0].fingerprint
    assert "every alert of INC-2" in text_of(await world.say(f"split INC-2 {fingerprint[:8]}"))
    assert "no alert named" in text_of(await world.say("split INC-1 Nope"))
