"""Prometheus, Loki, Chroma and the LLM down (connection refused on a free port) or slow (a
loopback port that takes connections and never answers): the real process, assembled from
settings, answers every command with what it has, and one sentence per missing machine
names it. Timeouts are 1 s here (LOOKOUT_CONFIG); the commands return, so the deadlines
held. (Slack: `tests/bot/slack/test_slack_degraded.py`; the database:
`tests/bot/test_database_outage.py`.)"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.settings import Settings
from skills.views.knowledge_cards import answer_message
from storage.models import KnowledgeAnswerRow
from tests.conftest import RunningServer, free_port, start_server
from tests.knowledge.test_knowledge_server import alert

# Timeouts: 1 s where a machine is slow (the test waits them out); 10 s where it is down,
# so that a refused connection is what each answer reports even on a busy machine.
CONFIG = """
signals: {{timeout_seconds: {t}}}
logs: {{timeout_seconds: {t}}}
health: {{timeout_seconds: {t}}}
dependency_health: {{timeout_seconds: {t}}}
context_posts: {{enabled: false}}
knowledge: {{llm_timeout_seconds: {t}, chroma_timeout_seconds: {t}, sync_seconds: 3600}}
services:
  - name: checkout
"""


@dataclass
class World:
    mode: str  # "down" or "slow"
    server: RunningServer

    async def say(self, text: str) -> str:
        async with self.server.client() as client:
            answer = await client.post("/console/api/command", json={"text": text, "user": "ann"})
        assert answer.status_code == 200, answer.text
        return str(answer.json()["text"])


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A loopback port that takes connections and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        yield int(listener.getsockname()[1])


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A loopback port that refuses connections: bound, not listening, and held for the
    test, so that no other test's listener can take it meanwhile."""
    with socket.socket() as reserved:
        reserved.bind(("127.0.0.1", 0))
        yield int(reserved.getsockname()[1])


@pytest.fixture(params=["down", "slow"])
async def world(
    request: pytest.FixtureRequest, tmp_path: Path, silent_port: int, closed_port: int
) -> AsyncIterator[World]:
    port = silent_port if request.param == "slow" else closed_port
    machine = f"http://127.0.0.1:{port}"
    config = tmp_path / "lookout.yml"
    config.write_text(CONFIG.format(t=1 if request.param == "slow" else 10))
    settings = Settings(
        data_dir=tmp_path / "data",
        port=free_port(),
        config=config,
        prometheus_url=machine,
        loki_url=machine,
        chroma_url=machine,
        openai_base_url=f"{machine}/v1",
        llm_model="local-model",
    )
    server, task, running = await start_server(settings)
    try:
        async with running.client() as client:
            body = alert(
                "HighErrorRate", "checkout", "5xx", datetime.now(UTC) - timedelta(minutes=3)
            )
            assert (await client.post("/webhooks/alertmanager", json=body)).status_code == 200
        yield World(request.param, running)
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=10)


async def test_prometheus(world: World) -> None:
    metrics = await world.say("metrics up")
    health = await world.say("health checkout")
    if world.mode == "down":
        assert metrics == "Prometheus is not answering right now, so there are no metrics to show."
        assert health == "Prometheus could not be reached, so there is no dependency health."
    else:
        assert metrics == "Prometheus did not answer in time; try again, or a shorter --since."
        assert health == "Prometheus did not answer within 1 s, so there is no dependency health."


async def test_loki(world: World) -> None:
    logs = await world.say("logs checkout")
    if world.mode == "down":
        assert logs == "Loki could not be reached, so there are no log patterns."
    else:
        assert logs == "Loki did not answer within 1 s, so there are no log patterns."


async def test_correlate_answers_with_what_it_has_and_names_each_missing_machine(
    world: World,
) -> None:
    context = await world.say("correlate INC-1")
    assert context.startswith("**Context of INC-1**")
    assert "No change recorded in the 2 h before the first alert." in context  # what it has
    if world.mode == "down":
        missing = [
            "Prometheus could not be reached, so there is no metric evidence.",
            "Prometheus could not be reached, so there is no dependency health.",
            "Loki could not be reached, so there are no log patterns.",
        ]
    else:
        missing = [
            "Prometheus did not answer within 1 s, so there is no metric evidence.",
            "Prometheus did not answer within 1 s, so there is no dependency health.",
            "Loki did not answer within 1 s, so there are no log patterns.",
        ]
    for sentence in missing:
        assert sentence in context, context


async def test_chroma(world: World) -> None:
    why = "Chroma is not reachable" if world.mode == "down" else "Chroma did not answer within 1 s"
    note = f"{why}; matched on words only, so vector search is missing from this answer."
    for command in ("similar INC-1", "suggest INC-1", "ask how did we fix checkout"):
        answer = await world.say(command)
        assert note in answer, answer
    similar = await world.say("similar INC-1")
    assert similar.startswith("Nothing in past incidents looks like INC-1")


async def test_the_llm(world: World) -> None:
    explained = await world.say("explain INC-1")
    # The answer from the ranked evidence comes at once; the model's is written after.
    assert explained.startswith("**Hypothesis for INC-1**")
    assert "local-model is writing a fuller answer" in explained
    written = await written_answer(world.server)
    expected = (
        "the LLM could not be reached (APIConnectionError)"
        if world.mode == "down"
        else "the LLM did not answer within 1 s"
    )
    assert written.plain_text.startswith(f"⚠️ No written answer: {expected}."), written
    assert "The answer above, from the ranked evidence alone, stands." in written.plain_text


async def written_answer(server: RunningServer) -> Any:
    """The message the LLM's answer became, once the writer has given up on it."""
    for _ in range(200):
        async with server.lookout.database.unit_of_work() as uow:
            rows = (await uow.session.execute(select(KnowledgeAnswerRow))).scalars().all()
        if rows and rows[0].status == "failed":
            return answer_message(rows[0])
        await asyncio.sleep(0.1)
    raise AssertionError(f"the LLM's answer never finished: {[r.status for r in rows]}")
