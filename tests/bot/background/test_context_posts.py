"""A new incident's context, posted unasked in its thread when there is something to say: a
strong change, error-log patterns (Loki through a fake fed with real lines), a moved metric
or an unhealthy call — once per incident, across replicas, never for an incident with
nothing to say, and not at all when the config switch is off. Real console platform and
notifier on a real SQLite file."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from bot.background.context_posts import ContextPoster
from bot.background.ingest import AlertIngestor
from bot.background.notifier import Notifier
from bot.config import ContextPostRules
from bot.console.platform import ConsoleHub, ConsolePlatform
from bot.main import build
from bot.metrics import Metrics
from bot.settings import Settings
from core.alerts import Alert, fingerprint
from core.changes import ChangeEvent, ChangeKind
from core.log_lines import LogRules
from core.topology import Topology
from integrations.evidence import LogEvidenceReader
from integrations.loki import LokiClient
from skills.context import SkillTools
from storage.database import Database
from tests.conftest import database_url_for
from tests.integrations.fake_loki import fake_loki

T0 = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def alert(name: str, service: str, starts_at: datetime) -> Alert:
    labels = {"alertname": name, "service": service, "severity": "critical"}
    return Alert(
        fingerprint=fingerprint(labels),
        status="firing",
        starts_at=starts_at,
        ends_at=None,
        labels=labels,
        annotations={"summary": f"{name} on {service}"},
    )


def deploy(service: str, landed: datetime) -> ChangeEvent:
    return ChangeEvent(
        id=f"{service}-v2.3.1",
        kind=ChangeKind.DEPLOYMENT,
        services=(service,),
        started_at=landed - timedelta(minutes=3),
        finished_at=landed,
        source="webhook",
        version="v2.3.1",
        author="dana",
    )


@dataclass
class World:
    database: Database
    clock: Clock
    ingestor: AlertIngestor
    notifier: Notifier
    console: ConsolePlatform

    def poster(self, tools: SkillTools | None = None) -> ContextPoster:
        return ContextPoster(
            self.database,
            tools or SkillTools(),
            topology=Topology,
            rules=ContextPostRules(delay_seconds=30),
            on_change=self.notifier.wake,
            metrics=Metrics(),
            clock=self.clock,
        )

    async def thread(self, incident_id: int) -> list[str]:
        """The texts of the replies in the incident's console thread."""
        await self.notifier.flush()
        async with self.database.unit_of_work() as uow:
            root = await uow.threads.get(incident_id=incident_id, platform="console")
            assert root is not None and root.message_id is not None
            rows = await uow.console.in_channel(
                channel=root.channel, thread_id=int(root.message_id)
            )
        return [str(row.body.get("text", "")) for row in rows]


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    database = Database(database_url_for(tmp_path))
    await database.upgrade()
    clock = Clock()
    console = ConsolePlatform(database, ConsoleHub(), clock=clock)
    notifier = Notifier(
        database,
        [console],
        channel_for=lambda _platform, _service, _project: "#incidents",
        metrics=Metrics(),
        clock=clock,
        debounce=0,
    )
    yield World(database, clock, AlertIngestor(database, clock=clock), notifier, console)
    await database.dispose()


async def test_a_strong_change_is_posted_once_in_the_new_incidents_thread(world: World) -> None:
    opened = T0
    async with world.database.unit_of_work() as uow:
        await uow.changes.record(event=deploy("checkout", opened - timedelta(minutes=15)), now=T0)
    await world.ingestor.ingest([alert("HighErrorRate", "checkout", opened)])
    await world.notifier.flush()  # the incident's message, where the thread hangs
    poster = world.poster()
    world.clock.now = T0 + timedelta(seconds=10)
    assert await poster.run_once() == []  # late alerts and changes get 30 s first
    world.clock.now = T0 + timedelta(seconds=40)
    assert await poster.run_once() == [1]
    [posted] = await world.thread(1)
    assert posted.startswith(
        "🔎 **What changed around INC-1?** — most likely: change: checkout v2.3.1 deployed"
    ), posted
    assert "checkout v2.3.1 deployment by dana, 15 min before — score 0.71 (same service)" in (
        posted
    )
    assert "Gathered by Lookout when the incident opened" in posted
    world.clock.now = T0 + timedelta(minutes=5)
    assert await poster.run_once() == []  # once per incident
    assert len(await world.thread(1)) == 1
    async with world.database.unit_of_work() as uow:
        stored = await uow.contexts.latest(incident_id=1)
        post = await uow.contexts.post(incident_id=1)
    assert stored is not None and stored.requested_by == "Lookout"
    assert post is not None and post.reasons == {"reasons": ["a strong change"]}


async def test_an_incident_with_nothing_to_say_gets_no_post(world: World) -> None:
    await world.ingestor.ingest([alert("DiskFull", "search", T0)])
    world.clock.now = T0 + timedelta(minutes=1)
    assert await world.poster().run_once() == []
    assert await world.thread(1) == []
    async with world.database.unit_of_work() as uow:
        post = await uow.contexts.post(incident_id=1)
        stored = await uow.contexts.latest(incident_id=1)
    assert post is not None and not post.posted  # checked, once
    assert stored is None  # and nothing kept that `show` would repeat


async def test_error_log_patterns_around_the_start_are_worth_a_post(world: World) -> None:
    lines = [
        "ERROR payment declined for order 1181: card_expired",
        "ERROR payment declined for order 1192: card_expired",
        "ERROR payment declined for order 1203: card_expired",
    ]
    entries = [
        ({"service": "payments"}, int((T0 + timedelta(seconds=i)).timestamp() * 1e9), line)
        for i, line in enumerate(lines)
    ]
    await world.ingestor.ingest([alert("HighErrorRate", "payments", T0)])
    world.clock.now = T0 + timedelta(minutes=1)
    with fake_loki(entries) as url:
        async with httpx.AsyncClient() as http:
            logs = LogEvidenceReader(LokiClient(url, http), LogRules())
            assert await world.poster(SkillTools(logs=logs)).run_once() == [1]
    [posted] = await world.thread(1)
    assert "**Error-log patterns**\n• 3× `ERROR payment declined for order <*> card_expired`" in (
        posted
    ), posted


async def test_replicas_post_it_once(world: World) -> None:
    async with world.database.unit_of_work() as uow:
        await uow.changes.record(event=deploy("checkout", T0 - timedelta(minutes=5)), now=T0)
    await world.ingestor.ingest([alert("HighErrorRate", "checkout", T0)])
    world.clock.now = T0 + timedelta(minutes=1)
    first, second = world.poster(), world.poster()
    results = await asyncio.gather(first.run_once(), second.run_once())
    assert sorted(len(result) for result in results) == [0, 1]
    assert len(await world.thread(1)) == 1
    async with world.database.unit_of_work() as uow:
        contexts = await uow.contexts.latest(incident_id=1)
    assert contexts is not None


def test_the_config_switch_turns_it_off(tmp_path: Path) -> None:
    config = tmp_path / "lookout.yml"
    config.write_text("knowledge: {enabled: false}\n")
    on = build(Settings(data_dir=tmp_path / "on", config=config))
    assert on.context_poster is not None
    config.write_text("knowledge: {enabled: false}\ncontext_posts: {enabled: false}\n")
    off = build(Settings(data_dir=tmp_path / "off", config=config))
    assert off.context_poster is None
