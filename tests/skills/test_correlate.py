"""`correlate` through the real dispatcher with retrieval wired in (real SQLite, the real
model, Chroma on a temp dir): a resolved look-alike shows as a similar past incident and
gives the confidence its precedent."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.background.ingest import AlertIngestor
from knowledge.embeddings import LocalEmbedder
from knowledge.index import KnowledgeIndex
from knowledge.vectors import ChromaStore
from runbooks.catalog import RunbookCatalog
from skills.catalog import default_registry
from skills.context import SkillTools
from skills.contract import Role
from skills.dispatcher import AccessPolicy, Dispatcher
from storage.database import Database
from tests.conftest import database_url_for
from tests.knowledge.conftest import KnowledgeHarness, make_knowledge
from tests.skills.conftest import Clock, make_alert, text_of


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[KnowledgeHarness]:
    database = Database(database_url_for(tmp_path))
    await database.upgrade()
    embedder = LocalEmbedder.shared()
    index = KnowledgeIndex(
        embedder=embedder,
        store=ChromaStore.embedded(tmp_path / "chroma", embedder_name=embedder.name),
    )
    knowledge = make_knowledge(database, index)
    clock = Clock()
    dispatcher = Dispatcher(
        registry=default_registry(),
        database=database,
        access=AccessPolicy(default_role=Role.RESPONDER),
        clock=clock,
        tools=SkillTools(runbooks=RunbookCatalog.shipped(), knowledge=knowledge),
    )
    harness = KnowledgeHarness(database, dispatcher, AlertIngestor(database, clock=clock), clock)
    harness.knowledge = knowledge
    yield harness
    await database.dispose()


async def test_correlate_cites_a_resolved_look_alike_as_its_precedent(
    harness: KnowledgeHarness,
) -> None:
    first = await harness.ingestor.ingest([make_alert("HighErrorRate", "checkout", minutes=0)])
    assert first.created_incidents == [1]
    await harness.say("resolve INC-1 rolled back checkout v2.31")
    harness.clock.advance(hours=3)
    await harness.ingestor.ingest([make_alert("DiskWillFillIn4Hours", "logging", minutes=200)])
    await harness.say("resolve INC-2 rotated the container logs")
    harness.clock.advance(hours=3)
    await harness.knowledge.sync.catch_up()
    await harness.ingestor.ingest([make_alert("HighErrorRate", "checkout", minutes=600, pod="b")])

    text = text_of(await harness.say("correlate INC-3"))

    similar = re.search(
        r"Similar past incidents\**\n• INC-1 checkout: HighErrorRate — (\d+)% alike; "
        r"fixed by: rolled back checkout v2\.31",
        text,
    )
    assert similar, text
    assert "INC-2" not in text  # a full disk is nothing like it
    precedent = re.search(r"precedent (\d\.\d\d)", text)
    assert precedent, text
    # The precedent is how alike the look-alike is: well above chance, and as shown.
    assert float(precedent[1]) >= 0.35
    assert round(float(precedent[1]) * 100) == int(similar[1])
    # No change, metric or call to weigh: the precedent and the change log's answer are
    # the whole confidence.
    confidence = re.search(r"Confidence (\d\.\d\d)", text)
    assert confidence, text
    assert float(confidence[1]) == pytest.approx(0.15 * float(precedent[1]) + 0.2, abs=0.01)
