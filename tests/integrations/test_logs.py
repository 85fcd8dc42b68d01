"""Loki through a local fake that speaks query_range JSON, fed with real OpenStack lines from
Loghub: the client, the `logs` skill's patterns and trace timeline, and what Loki's own
response fixtures parse to."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from bot.background.ingest import AlertIngestor
from core.log_lines import LogLine, LogRules, fold_stack_traces, redact
from core.projects import Project, Projects
from integrations.evidence import LogEvidenceReader
from integrations.loki import LokiClient, LokiUnreachableError, parse_streams
from skills.catalog import default_registry
from skills.context import SkillTools
from skills.contract import Reply, Role, Table
from skills.dispatcher import AccessPolicy, Dispatcher
from storage.database import Database
from tests.conftest import FIXTURES, REPO, database_url_for, free_port
from tests.integrations.fake_loki import Entry, fake_loki
from tests.skills.conftest import NOW, Clock, Harness, text_of

LOGHUB = REPO.parent / "shared" / "datasets" / "loghub-2k" / "OpenStack" / "OpenStack_2k.log"


def openstack_entries() -> list[Entry]:
    """The first 600 OpenStack lines, re-timed to the minutes before NOW, as two services:
    nova-api lines are `checkout`, the rest `payments`; a few made into errors."""
    if not LOGHUB.is_file():
        pytest.skip(f"the Loghub sample is not at {LOGHUB}")
    lines = LOGHUB.read_text(encoding="utf-8", errors="replace").splitlines()[:600]
    entries = []
    for index, line in enumerate(lines):
        at = NOW - timedelta(minutes=10) + timedelta(seconds=index)
        service = "checkout" if "nova-api" in line else "payments"
        entries.append(({"service": service}, int(at.timestamp() * 1e9), line))
    return entries


@asynccontextmanager
async def logs_world(
    tmp_path: Path, entries: list[Entry], projects: Projects | None = None
) -> AsyncIterator[Harness]:
    with fake_loki(entries) as url:
        database = Database(database_url_for(tmp_path))
        await database.upgrade()
        clock = Clock()
        async with httpx.AsyncClient() as http:
            rules = LogRules(errors="(?i)(GET|POST|error)")
            tools = SkillTools(
                logs=LogEvidenceReader(LokiClient(url, http), rules),
                projects=projects or Projects(),
            )
            dispatcher = Dispatcher(
                registry=default_registry(),
                database=database,
                access=AccessPolicy(default_role=Role.RESPONDER),
                clock=clock,
                tools=tools,
                projects=lambda: tools.projects,
            )
            yield Harness(database, dispatcher, AlertIngestor(database, clock=clock), clock)
        await database.dispose()


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[Harness]:
    async with logs_world(tmp_path, openstack_entries()) as harness:
        yield harness


async def test_logs_groups_a_services_lines_into_patterns(world: Harness) -> None:
    reply = await world.say("logs checkout --since 15m")
    table = next(b for b in reply.blocks if isinstance(b, Table))
    top = table.rows[0]
    assert int(top[0]) > 100
    assert '"GET <*> status: <*> len: <*> time: <*>' in top[2]  # the raw line, header and all
    assert len(table.rows) <= 5  # hundreds of lines, a handful of patterns


async def test_logs_follows_a_request_id_across_services(world: Harness) -> None:
    request = "req-38101a0b-2096-447d-96ea-a692162415ae"
    reply = await world.say(f"logs --trace {request} --since 1h")
    assert f"Trace `{request}`" in text_of(reply)


def shown(reply: Reply) -> str:
    """A reply's text and every cell of its tables."""
    cells = (cell for b in reply.blocks if isinstance(b, Table) for row in b.rows for cell in row)
    return "\n".join((text_of(reply), *cells))


async def test_with_projects_a_trace_shows_only_the_lines_of_ones_projects(
    tmp_path: Path,
) -> None:
    at = int((NOW - timedelta(minutes=2)).timestamp() * 1e9)
    entries: list[Entry] = [
        ({"service": "checkout"}, at, "POST /cart trace_id=t-7f3 accepted"),
        ({"service": "payments"}, at + 10**9, "charge card trace_id=t-7f3 declined by zanzibar"),
        # A service no project owns: the default project's, which everyone here is in.
        ({"service": "edge-proxy"}, at + 2 * 10**9, "proxy trace_id=t-7f3 upstream timeout"),
    ]
    projects = Projects(
        (
            Project("shop", frozenset({"checkout"}), members={"alice": "responder"}),
            Project("billing", frozenset({"payments"}), members={"bob": "responder"}),
        )
    )
    async with logs_world(tmp_path, entries, projects) as harness:
        alice = shown(await harness.say("logs --trace t-7f3 --since 1h", user="alice"))
        assert "**Trace `t-7f3`**: 2 lines across checkout, edge-proxy" in alice
        assert "POST /cart" in alice and "upstream timeout" in alice
        assert "zanzibar" not in alice and "payments" not in alice
        assert "Lines of services outside your projects are left out." in alice
        only_theirs = shown(await harness.say("logs --trace t-7f3 --since 1h", user="bob"))
        assert "zanzibar" in only_theirs and "POST /cart" not in only_theirs
        nothing = await harness.say("logs payments --since 1h", user="alice")
        assert text_of(nothing) == "There is no service payments you can see."
    everyone = Projects((Project("shop", frozenset({"checkout"}), members={"*": "viewer"}),))
    (tmp_path / "all").mkdir()
    async with logs_world(tmp_path / "all", entries, everyone) as harness:
        every = shown(await harness.say("logs --trace t-7f3 --since 1h", user="alice"))
        assert "3 lines across checkout, edge-proxy, payments" in every and "zanzibar" in every
        assert "left out" not in every


async def test_an_unreachable_loki_is_one_sentence(tmp_path: Path) -> None:
    async with httpx.AsyncClient() as http:
        client = LokiClient(f"http://127.0.0.1:{free_port()}", http)
        with pytest.raises(LokiUnreachableError):
            await client.query_range('{a="b"}', start=NOW - timedelta(hours=1), end=NOW)


def test_lokis_own_response_fixtures_parse() -> None:
    body = json.loads((FIXTURES / "loki" / "02_marshal_test_streams_response.json").read_text())
    lines = parse_streams(body["data"])
    assert lines and all(line.at.tzinfo is not None for line in lines)
    labelled = json.loads(
        (FIXTURES / "loki" / "03_marshal_test_streams_categorize_labels.json").read_text()
    )
    assert parse_streams(labelled["data"])


def test_stack_traces_fold_and_secrets_are_redacted() -> None:
    at = datetime(2026, 11, 30, tzinfo=UTC)
    rows = [
        LogLine(at, "ERROR payment failed password=hunter2 token: abc123def456", {"s": "a"}),
        LogLine(at, "java.lang.IllegalStateException: boom", {"s": "a"}),
        LogLine(at, "\tat com.shop.Pay.charge(Pay.java:42)", {"s": "a"}),
        LogLine(at, "Caused by: java.io.IOException: reset", {"s": "a"}),
    ]
    folded = fold_stack_traces(rows)
    assert len(folded) == 2 and folded[1].text.count("\n") == 2
    assert redact(rows[0].text) == "ERROR payment failed password=[REDACTED] token: [REDACTED]"
