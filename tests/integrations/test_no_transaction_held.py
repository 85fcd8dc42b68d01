"""No command holds the database while a machine answers: every skill that asks Prometheus,
Loki or the knowledge index does so with no unit of work open (on SQLite one open unit holds
every other writer, ingestion included). Each machine call is recorded with the number of
units of work open at that moment; for every such command it must be zero — the real
Prometheus of `live_world`, a Loki fake fed with real lines, real Chroma and the model."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from core.capacity_rules import CapacityResource, CapacityRules
from core.dependency_health import DependencyRules
from core.log_lines import LogRules
from core.metric_evidence import SignalRules
from core.service_health import HealthRules
from core.slo import SlothSpec, slos_of
from core.topology import CONFIG, Service, Topology
from integrations.capacity import CapacityReader
from integrations.dependency_health import DependencyHealthReader
from integrations.evidence import LogEvidenceReader, MetricEvidenceReader
from integrations.loki import LokiClient
from integrations.prometheus import PrometheusClient
from integrations.service_health import PrometheusHealth
from integrations.slo import SloReader
from knowledge.embeddings import LocalEmbedder
from knowledge.index import KnowledgeIndex
from knowledge.vectors import ChromaStore
from runbooks.catalog import RunbookCatalog
from skills.catalog import default_registry
from skills.context import SkillTools
from skills.contract import Role
from skills.dispatcher import AccessPolicy, Dispatcher
from storage.database import Database
from storage.uow import UnitOfWork
from tests.conftest import FIXTURES, database_url_for
from tests.integrations.fake_loki import fake_loki
from tests.integrations.live_world import LiveWorld, alert_at
from tests.knowledge.conftest import make_knowledge
from tests.skills.conftest import Clock, Harness, text_of

COMMANDS = [
    "metrics up --since 15m",
    "metrics checkout --compare 1d",
    "logs checkout",
    "logs --trace req-1",
    "health checkout",
    "correlate INC-1",
    "blast-radius payments --what-if",
    "blast-radius",
    "slo",
    "capacity",
    "ask how did we fix payments errors",
    "explain INC-1",
    "similar INC-1",
    "suggest INC-1",
    "postmortem INC-1",
]


class WatchedDatabase(Database):
    """A database that counts its open units of work."""

    open_units = 0

    @asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[UnitOfWork]:
        async with super().unit_of_work() as uow:
            self.open_units += 1
            try:
                yield uow
            finally:
                self.open_units -= 1


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[WatchedDatabase]:
    db = WatchedDatabase(database_url_for(tmp_path))
    await db.upgrade()
    yield db
    await db.dispose()


async def test_machines_are_asked_with_no_transaction_open(
    live_world: LiveWorld,
    database: WatchedDatabase,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    asked: list[tuple[str, int]] = []  # (what, units of work open then)

    async def record(request: httpx.Request) -> None:
        asked.append(
            (f"{request.url.host}:{request.url.port}{request.url.path}", database.open_units)
        )

    embedder = LocalEmbedder.shared()
    index = KnowledgeIndex(
        embedder=embedder,
        store=ChromaStore.embedded(tmp_path / "chroma", embedder_name=embedder.name),
    )
    knowledge = make_knowledge(database, index)
    search = index.search

    async def watched_search(*args: Any, **kwargs: Any) -> Any:
        asked.append(("knowledge index", database.open_units))
        return await search(*args, **kwargs)

    monkeypatch.setattr(index, "search", watched_search)
    at = live_world.at
    line = f"ERROR payment declined req-1 code=51 at {at.isoformat()}"
    entries = [
        ({"service": "checkout"}, int((at - timedelta(minutes=m)).timestamp() * 1e9), line)
        for m in (1, 2, 3, 12)
    ]
    spec = SlothSpec.parse(
        yaml.safe_load((FIXTURES / "sloth" / "01_getting-started_availability.yml").read_text())
    )
    with fake_loki(entries) as loki:
        async with httpx.AsyncClient(event_hooks={"request": [record]}) as http:
            prometheus = PrometheusClient(live_world.url, http)
            topology = Topology(
                [
                    Service("checkout", depends_on=("payments",), sources=frozenset({CONFIG})),
                    Service("payments", sources=frozenset({CONFIG})),
                ]
            )
            tools = SkillTools(
                runbooks=RunbookCatalog.shipped(),
                health=PrometheusHealth(prometheus, HealthRules(cache_seconds=0)),
                metrics=MetricEvidenceReader(prometheus, SignalRules()),
                logs=LogEvidenceReader(LokiClient(loki, http), LogRules()),
                dependencies=DependencyHealthReader(prometheus, DependencyRules()),
                knowledge=knowledge,
                slo=SloReader(prometheus, slos_of(spec)),
                capacity=CapacityReader(
                    prometheus,
                    CapacityRules(resources=[CapacityResource(name="disk", usage="up", limit=1)]),
                ),
            )
            clock = Clock()
            clock.now = at
            dispatcher = Dispatcher(
                registry=default_registry(),
                database=database,
                access=AccessPolicy(default_role=Role.RESPONDER),
                clock=clock,
                tools=tools,
                topology=lambda: topology,
            )
            from bot.background.ingest import AlertIngestor

            harness = Harness(database, dispatcher, AlertIngestor(database, clock=clock), clock)
            await knowledge.sync.run_once()
            await harness.ingestor.ingest(
                [alert_at("HighErrorRate", "checkout", at - timedelta(minutes=13))]
            )
            for command in COMMANDS:
                before = len(asked)
                reply = await harness.say(command, incident_id=1)
                assert "Something went wrong" not in text_of(reply), (command, text_of(reply))
                during = asked[before:]
                assert during, f"`{command}` asked no machine"
                held = [what for what, units in during if units]
                assert not held, f"`{command}` asked {held} inside a transaction"
