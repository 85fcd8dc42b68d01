"""The live blast-radius tracker: asked in an incident's thread, posted once by the notifier,
edited in place by the tracker watcher as dependents fail or recover, closed when the
incident resolves. Real dispatcher, ingestion, notifier and watcher, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from datetime import datetime

import pytest

from bot.background.blast_trackers import BlastTrackerWatcher
from bot.background.ingest import AlertIngestor
from bot.background.notifier import Notifier
from bot.metrics import Metrics
from bot.platforms import PostedMessage
from core.alerts import Alert
from core.topology import Service, Topology
from skills.catalog import default_registry
from skills.contract import (
    Actor,
    Context,
    Conversation,
    Image,
    Reply,
    Role,
    Table,
    Text,
)
from skills.dispatcher import AccessPolicy, Dispatcher, Outcome
from skills.moments import in_utc
from storage.database import Database
from storage.trackers import BLAST_MESSAGE
from tests.skills.conftest import Clock, make_alert
from tests.skills.test_intelligence_skills import TOPOLOGY

PLATFORM = "recording"


@dataclass
class Message:
    channel: str
    thread: str | None
    reply: Reply


@dataclass
class ThreadedPlatform:
    """Speaks the ChatPlatform protocol, threads included, and keeps every message's latest
    version and every call."""

    name: str = PLATFORM
    messages: dict[str, Message] = field(default_factory=dict)
    calls: list[tuple[str, str]] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)  # set at every call

    def _add(self, channel: str, thread: str | None, reply: Reply) -> str:
        message_id = f"msg-{len(self.messages) + 1}"
        self.messages[message_id] = Message(channel, thread, reply)
        self.changed.set()
        return message_id

    async def post(self, *, channel: str, reply: Reply, intent: str | None = None) -> PostedMessage:
        message_id = self._add(channel, None, reply)
        self.calls.append(("post", message_id))
        return PostedMessage(message_id=message_id, thread_id=message_id)

    async def find_posted(
        self, *, channel: str, intent: str, since: datetime
    ) -> PostedMessage | None:
        return None

    async def post_in_thread(self, *, channel: str, thread_id: str, reply: Reply) -> PostedMessage:
        message_id = self._add(channel, thread_id, reply)
        self.calls.append(("post_in_thread", message_id))
        return PostedMessage(message_id=message_id, thread_id=thread_id)

    async def update(self, *, channel: str, message_id: str, reply: Reply) -> None:
        self.messages[message_id] = replace(self.messages[message_id], reply=reply)
        self.calls.append(("update", message_id))
        self.changed.set()

    def trackers(self) -> dict[str, Message]:
        return {
            message_id: message
            for message_id, message in self.messages.items()
            if "Blast radius of" in _title(message.reply)
        }


def _title(reply: Reply) -> str:
    first = reply.blocks[0] if reply.blocks else None
    return first.text if isinstance(first, Text) else ""


def words(reply: Reply) -> str:
    return in_utc("\n".join(b.text for b in reply.blocks if isinstance(b, Text | Context)))


def rows(reply: Reply) -> dict[str, tuple[str, ...]]:
    table = next(block for block in reply.blocks if isinstance(block, Table))
    return {row[0]: row for row in table.rows}


@dataclass
class World:
    database: Database
    dispatcher: Dispatcher
    ingestor: AlertIngestor
    notifier: Notifier
    watcher: BlastTrackerWatcher
    platform: ThreadedPlatform
    clock: Clock
    outcomes: list[Outcome]
    topology: Topology = TOPOLOGY

    async def say(
        self, text: str, *, incident_id: int | None = None, thread: str | None = None
    ) -> Reply:
        actor = Actor(platform=PLATFORM, user_id="u1", display_name="alice")
        conversation = Conversation(
            platform=PLATFORM, channel="#incidents", thread=thread, incident_id=incident_id
        )
        return await self.dispatcher.run(text, actor=actor, conversation=conversation)

    async def settle(self) -> tuple[int, int]:
        """One watcher pass, then one notifier pass: (trackers moved, messages sent)."""
        moved = await self.watcher.refresh()
        return moved, await self.notifier.flush()


@pytest.fixture
async def world(database: Database) -> AsyncIterator[World]:
    clock = Clock()
    outcomes: list[Outcome] = []

    async def finished(outcome: Outcome) -> None:
        outcomes.append(outcome)

    world: World

    def topology() -> Topology:
        return world.topology

    dispatcher = Dispatcher(
        registry=default_registry(),
        database=database,
        access=AccessPolicy(default_role=Role.RESPONDER),
        clock=clock,
        on_finished=finished,
        topology=topology,
    )
    platform = ThreadedPlatform()
    notifier = Notifier(
        database,
        [platform],
        channel_for=lambda _platform, _service, _project: "#incidents",
        metrics=Metrics(),
        clock=clock,
    )
    watcher = BlastTrackerWatcher(
        database,
        topology=topology,
        health=None,
        on_change=notifier.wake,
        metrics=Metrics(),
        clock=clock,
    )
    ingestor = AlertIngestor(database, clock=clock, topology=topology)
    world = World(database, dispatcher, ingestor, notifier, watcher, platform, clock, outcomes)
    yield world


def resolved(alert: Alert) -> Alert:
    return replace(alert, status="resolved", ends_at=alert.starts_at.replace(minute=59))


POSTGRES = make_alert("PostgresDown", "postgres-primary", "critical", 0)
PAYMENTS = make_alert("HighErrorRate", "payments-api", "critical", 0.5)
REPORTS = make_alert("SlowReports", "reports", "error", 1)


async def open_outage(world: World) -> str:
    """INC-1 (the database and one dependent) posted; its root message's id."""
    await world.ingestor.ingest([POSTGRES, PAYMENTS])
    await world.settle()
    [(root, _message)] = world.platform.messages.items()
    return root


async def test_a_dependent_alert_joining_edits_the_tracker_in_place(world: World) -> None:
    root = await open_outage(world)
    reply = await world.say("blast-radius", incident_id=1, thread=root)
    assert world.outcomes[-1].messages_changed
    assert _title(reply) == "**Blast radius of postgres-primary** (INC-1)"
    shown = words(reply)
    assert "postgres-primary: 4 dependent services (1 failing), up to 3 hops" in shown
    assert "Live tracker in INC-1's thread, updated as dependents degrade or recover." in shown
    assert any(isinstance(block, Image) for block in reply.blocks)
    assert not any(isinstance(block, Table) for block in reply.blocks)  # the tracker has it

    assert await world.settle() == (0, 1)  # the watcher sees nothing new; the tracker is posted
    [(tracker_id, tracker)] = world.platform.trackers().items()
    assert world.platform.calls[-1] == ("post_in_thread", tracker_id)
    assert tracker.thread == root
    assert _title(tracker.reply) == "**Blast radius of postgres-primary** (INC-1) — live"
    assert rows(tracker.reply)["payments-api"][5] == "🔴 failing"
    assert rows(tracker.reply)["reports"][5] == "🟢 healthy"
    assert "• 02:50:30 UTC payments-api failed, 30 s after postgres-primary" in words(tracker.reply)
    assert "Updated 03:00:00 UTC · live: edited as dependents degrade or recover." in words(
        tracker.reply
    )
    assert tracker.reply.color == "critical"

    world.clock.advance(seconds=75)
    await world.ingestor.ingest([REPORTS])  # a dependent joins the incident
    assert await world.settle() == (1, 2)  # the tracker and the incident's message
    assert world.platform.calls[-2:] in (
        [("update", root), ("update", tracker_id)],
        [("update", tracker_id), ("update", root)],
    )
    edited = world.platform.messages[tracker_id].reply
    assert rows(edited)["reports"][5] == "🔴 failing"
    assert "(2 failing)" in words(edited)
    assert "• 02:51:00 UTC reports failed, 60 s after postgres-primary" in words(edited)
    assert "Updated 03:01:15 UTC · live" in words(edited)
    assert len(world.platform.trackers()) == 1  # edited, never re-posted

    world.clock.advance(seconds=30)
    assert await world.settle() == (0, 0)  # nothing moved: no edit


async def test_recovery_and_resolution_end_the_tracker(world: World) -> None:
    root = await open_outage(world)
    await world.say("blast-radius", incident_id=1, thread=root)
    await world.settle()
    [tracker_id] = world.platform.trackers()

    world.clock.advance(minutes=1)
    await world.ingestor.ingest([resolved(PAYMENTS)])  # a dependent recovers
    assert (await world.settle())[0] == 1
    recovered = world.platform.messages[tracker_id].reply
    assert rows(recovered)["payments-api"][5] == "🟢 healthy"
    assert "postgres-primary: 4 dependent services, up to 3 hops" in words(recovered)
    assert recovered.color is None

    world.clock.advance(minutes=1)
    answer = await world.say("resolve INC-1 failed over")
    assert "resolved" in words(answer)
    assert await world.settle() == (1, 2)
    final = world.platform.messages[tracker_id].reply
    assert _title(final) == "**Blast radius of postgres-primary** (INC-1) — final"
    assert "Incident resolved — no longer tracking. Updated 03:02:00 UTC." in words(final)
    assert "• 02:50:30 UTC payments-api failed, 30 s after postgres-primary" in words(final)
    assert final.color == "resolved"
    async with world.database.unit_of_work() as uow:
        [row] = await uow.trackers.for_incident(incident_id=1)
    assert not row.live

    calls = len(world.platform.calls)
    world.clock.advance(minutes=1)
    await world.ingestor.ingest([make_alert("Unrelated", "mailer", "critical", 12)])
    assert (await world.settle())[0] == 0  # a finished tracker follows nothing
    assert all(call[1] != tracker_id for call in world.platform.calls[calls:])


async def test_asking_again_reuses_the_tracker(world: World) -> None:
    root = await open_outage(world)
    await world.say("blast-radius", incident_id=1, thread=root)
    await world.settle()
    again = await world.say("blast-radius --incident INC-1")  # from the channel this time
    assert "Live tracker in INC-1's thread" in words(again)
    await world.settle()
    await world.say("blast-radius postgres-primary", incident_id=1, thread=root)
    await world.settle()
    assert len(world.platform.trackers()) == 1
    async with world.database.unit_of_work() as uow:
        trackers = await uow.trackers.for_incident(incident_id=1)
        [message] = [
            await uow.messages.get(kind=BLAST_MESSAGE, key=str(t.id), platform=PLATFORM)
            for t in trackers
        ]
    assert [(t.service, t.revision, t.requested_by) for t in trackers] == [
        ("postgres-primary", 1, "alice")
    ]
    assert message is not None and message.rendered_revision == 1

    # Another service on the same incident is another tracker.
    await world.say("blast-radius payments-api", incident_id=1, thread=root)
    await world.settle()
    titles = sorted(_title(m.reply) for m in world.platform.trackers().values())
    assert titles == [
        "**Blast radius of payments-api** (INC-1) — live",
        "**Blast radius of postgres-primary** (INC-1) — live",
    ]


async def test_what_if_and_questions_without_an_incident_stay_static(world: World) -> None:
    root = await open_outage(world)
    what_if = await world.say("blast-radius reports --what-if", incident_id=1, thread=root)
    assert _title(what_if) == "**What if reports failed?**"
    plain = await world.say("blast-radius postgres-primary")
    assert rows(plain)["payments-api"][5] == "🔴 failing"
    assert "Live tracker" not in words(plain) + words(what_if)
    assert not any(outcome.messages_changed for outcome in world.outcomes)
    await world.settle()
    assert world.platform.trackers() == {}
    async with world.database.unit_of_work() as uow:
        assert await uow.trackers.for_incident(incident_id=1) == []


async def test_a_tracked_service_leaving_the_catalog_keeps_its_picture(world: World) -> None:
    root = await open_outage(world)
    await world.say("blast-radius", incident_id=1, thread=root)
    await world.settle()
    [tracker_id] = world.platform.trackers()
    world.topology = Topology([Service("mailer", team="growth")])  # a catalog rewrite
    world.clock.advance(minutes=1)
    await world.ingestor.ingest([REPORTS])
    assert (await world.settle())[0] == 0  # kept as it was: nothing to recompute from
    await world.say("resolve INC-1")
    assert (await world.settle())[0] == 1
    final = world.platform.messages[tracker_id].reply
    assert "— final" in _title(final)
    assert rows(final)["payments-api"][5] == "🔴 failing"  # the last picture, closed
    assert "Incident resolved — no longer tracking." in words(final)
