"""Retrieval fixtures: the real model (loaded once per process), Chroma on a temp dir or a
`chroma run` server on a loopback port, and the skills' harness with knowledge wired in."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from knowledge.embeddings import LocalEmbedder
from knowledge.index import KnowledgeIndex
from knowledge.service import Knowledge, KnowledgeRules
from knowledge.sync import KnowledgeSync
from knowledge.vectors import ChromaStore
from runbooks.catalog import RunbookCatalog
from skills.catalog import default_registry
from skills.context import SkillTools
from skills.contract import Role
from skills.dispatcher import AccessPolicy, Dispatcher, Outcome
from storage.database import Database
from tests.conftest import database_url_for, free_port
from tests.skills.conftest import Clock, Harness


@pytest.fixture(scope="session")
def embedder() -> LocalEmbedder:
    model = LocalEmbedder.shared()
    model.load()
    return model


@pytest.fixture
def index(tmp_path: Path, embedder: LocalEmbedder) -> KnowledgeIndex:
    store = ChromaStore.embedded(tmp_path / "chroma", embedder_name=embedder.name)
    return KnowledgeIndex(embedder=embedder, store=store)


def _chroma_binary() -> str | None:
    found = shutil.which("chroma") or str(Path(sys.executable).parent / "chroma")
    return found if Path(found).exists() else None


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Chroma server (`chroma run`, from the chromadb package) on a loopback port."""
    binary = _chroma_binary()
    if binary is None:
        pytest.skip("the chroma command of the chromadb package is not installed")
    port = free_port()
    folder = tmp_path_factory.mktemp("chroma-server")
    log = (folder / "server.log").open("wb")
    process = subprocess.Popen(
        [binary, "run", "--path", str(folder / "data"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            if process.poll() is not None:
                pytest.fail(f"chroma run exited: {(folder / 'server.log').read_text()[-2000:]}")
            try:
                if httpx.get(f"{url}/api/v2/heartbeat", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        else:
            pytest.fail("chroma run did not answer within 30 s")
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def make_knowledge(
    database: Database,
    index: KnowledgeIndex,
    *,
    postmortems: Path | None = None,
    rules: KnowledgeRules | None = None,
) -> Knowledge:
    from bot.knowledge_setup import runbook_documents

    catalog = RunbookCatalog.shipped()
    sync = KnowledgeSync(
        database=database,
        index=index,
        postmortems=postmortems,
        runbooks=lambda: runbook_documents(catalog),
    )
    return Knowledge(index=index, sync=sync, rules=rules or KnowledgeRules())


class KnowledgeHarness(Harness):
    knowledge: Knowledge


@pytest.fixture
async def kharness(tmp_path: Path, index: KnowledgeIndex) -> AsyncIterator[KnowledgeHarness]:
    """The skills' harness with retrieval: real SQLite, real Chroma on a temp dir, the model."""
    database = Database(database_url_for(tmp_path))
    await database.upgrade()
    clock = Clock()
    outcomes: list[Outcome] = []
    postmortems = tmp_path / "postmortems"
    postmortems.mkdir()
    knowledge = make_knowledge(database, index, postmortems=postmortems)

    async def finished(outcome: Outcome) -> None:
        outcomes.append(outcome)

    dispatcher = Dispatcher(
        registry=default_registry(),
        database=database,
        access=AccessPolicy(default_role=Role.RESPONDER, admins=frozenset({"root"})),
        clock=clock,
        on_finished=finished,
        tools=SkillTools(runbooks=RunbookCatalog.shipped(), knowledge=knowledge),
    )
    from bot.background.ingest import AlertIngestor

    harness = KnowledgeHarness(
        database, dispatcher, AlertIngestor(database, clock=clock), clock, outcomes
    )
    harness.knowledge = knowledge
    yield harness
    await database.dispose()
