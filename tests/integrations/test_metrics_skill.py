"""`metrics <promql>` and `metrics <service> --compare 1d|1w` against a real Prometheus serving
checkout's HTTP metrics as the test wrote them (see `live_world`): 40 req/s now against 20 a
day and a week ago, 5 % errors against 1 %. A Prometheus that is down or does not answer,
and PromQL it cannot read, each get one plain sentence."""

from __future__ import annotations

import socket
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from core.metric_evidence import SignalRules
from core.projects import Project, Projects
from integrations.evidence import MetricEvidenceReader
from integrations.prometheus import PrometheusClient
from skills.context import SkillTools
from skills.contract import Image, Table
from storage.database import Database
from tests.conftest import database_url_for, free_port
from tests.integrations.live_world import LiveWorld, harness_at
from tests.skills.conftest import Harness, text_of


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[Database]:
    db = Database(database_url_for(tmp_path))
    await db.upgrade()
    yield db
    await db.dispose()


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A loopback port that takes connections and never answers (a hung Prometheus)."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield int(listener.getsockname()[1])


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


def metrics_harness(
    live_world: LiveWorld,
    database: Database,
    http: httpx.AsyncClient,
    url: str | None = None,
    timeout: float = 5,
    projects: Projects | None = None,
) -> Harness:
    reader = MetricEvidenceReader(
        PrometheusClient(url or live_world.url, http), SignalRules(timeout_seconds=timeout)
    )
    tools = SkillTools(metrics=reader, projects=projects or Projects())
    return harness_at(database, tools, live_world.at)


async def test_a_range_query_is_a_table_and_a_sparkline(
    live_world: LiveWorld, database: Database, http: httpx.AsyncClient
) -> None:
    harness = metrics_harness(live_world, database, http)
    query = 'sum by (code) (rate(http_requests_total{service="checkout"}[1m]))'
    reply = await harness.say(f"metrics {query} --since 30m")
    assert text_of(reply).startswith(f"**`{query}`**, last 30m")
    table = next(block for block in reply.blocks if isinstance(block, Table))
    assert table.columns == ("Series", "Last", "Min", "Max")
    rows = {row[0]: row[1:] for row in table.rows}
    assert set(rows) == {"{code=200}", "{code=500}"}
    assert float(rows["{code=200}"][0]) == pytest.approx(38, rel=0.02)
    assert float(rows["{code=500}"][2]) == pytest.approx(2, rel=0.02)
    [image] = [block for block in reply.blocks if isinstance(block, Image)]
    assert image.png.startswith(b"\x89PNG") and image.alt == f"2 series of {query}"
    empty = await harness.say("metrics nothing_here_total --since 1h")
    assert text_of(empty) == "`nothing_here_total` returned no series in the last 1h."


async def test_compare_puts_the_golden_signals_beside_a_day_and_a_week_ago(
    live_world: LiveWorld, database: Database, http: httpx.AsyncClient
) -> None:
    harness = metrics_harness(live_world, database, http)
    for span in ("1d", "1w"):
        reply = await harness.say(f"metrics checkout --compare {span} --since 30m")
        assert text_of(reply).startswith(
            f"**checkout: golden signals, last 30m against {span} ago**"
        )
        table = next(block for block in reply.blocks if isinstance(block, Table))
        assert table.columns == ("Signal", "Now", f"{span} ago", "Change")
        rows = {row[0]: row[1:] for row in table.rows}
        assert rows["rate"] == ("40/s", "20/s", "+100 %")
        assert rows["errors"] == ("5.0 %", "1.0 %", "+400 %")
        assert rows["latency p99"] == ("—", "—", "—")  # checkout has no duration histogram
    unknown = await harness.say("metrics ledger --compare 1d")
    assert text_of(unknown) == (
        "Prometheus has no golden signals for `ledger` now or 1d ago; check the service's "
        "name or the `signals:` queries."
    )
    not_a_service = await harness.say("metrics sum(up) --compare 1d")
    assert text_of(not_a_service) == (
        "`--compare` takes a service: `metrics checkout --compare 1d`."
    )


# checkout's team and payments' team; "carol" is in both (and, as everyone, in the default).
TWO_TEAMS = Projects(
    (
        Project(
            "shop",
            frozenset({"checkout", "web"}),
            members={"alice": "responder", "carol": "viewer"},
        ),
        Project(
            "billing",
            frozenset({"payments"}),
            members={"bob": "responder", "carol": "viewer"},
        ),
    )
)


async def test_with_projects_a_query_reads_only_the_services_of_ones_projects(
    live_world: LiveWorld, database: Database, http: httpx.AsyncClient
) -> None:
    harness = metrics_harness(live_world, database, http, projects=TWO_TEAMS)
    for user in ("alice", "carol"):
        ours = await harness.say(
            'metrics sum(rate(http_requests_total{service="checkout"}[1m])) --since 30m',
            user=user,
        )
        assert any(isinstance(block, Table) for block in ours.blocks), (user, text_of(ours))
    theirs = {
        'metrics rate(http_requests_total{service="payments"}[1m])': (
            "There is no service payments you can see."
        ),
        'metrics rate(http_requests_total{service=~"checkout|payments"}[1m])': (
            "There is no service payments you can see."
        ),
        "metrics payments --compare 1d": "There is no service payments you can see.",
        "metrics sum(rate(http_requests_total[1m]))": (
            "`http_requests_total` reads every project's series: name one of your services "
            'in each selector, e.g. `http_requests_total{service="<service>"}`.'
        ),
        'metrics up{service="checkout"} or up{service!="checkout"}': (
            "`up` reads every project's series: name one of your services in each selector, "
            'e.g. `up{service="<service>"}`.'
        ),
        'metrics {__name__=~".+"}': (
            '`{__name__=~".+"}` reads every project\'s series: name one of your services '
            "in each selector."
        ),
        "metrics sum(rate(http_requests_total[5m])": (
            "That is not PromQL (unclosed left parenthesis); check the expression, e.g. "
            "`sum(rate(http_requests_total[5m]))`."
        ),
    }
    for command, refusal in theirs.items():
        reply = await harness.say(command, user="alice")
        assert text_of(reply) == refusal, command
        assert reply.visibility == "ephemeral"
    # A member of every project reads everything Prometheus holds.
    everything = await harness.say(
        "metrics sum by (service) (rate(http_requests_total[1m])) --since 30m", user="carol"
    )
    table = next(block for block in everything.blocks if isinstance(block, Table))
    assert [row[0] for row in table.rows] == ["{service=checkout}"]
    compared = await harness.say("metrics payments --compare 1d", user="carol")
    assert "There is no service" not in text_of(compared)


async def test_promql_prometheus_cannot_read_is_a_plain_sentence(
    live_world: LiveWorld, database: Database, http: httpx.AsyncClient
) -> None:
    harness = metrics_harness(live_world, database, http)
    reply = await harness.say("metrics sum(rate(http_requests_total[5m])")
    assert reply.visibility == "ephemeral"
    assert text_of(reply) == (
        "That is not PromQL Prometheus can read (unclosed left parenthesis at character "
        "34); check the expression, e.g. `sum(rate(http_requests_total[5m]))`."
    )
    odd = await harness.say("metrics 'rate(http_requests_total{service=\"checkout\"})'")
    assert odd.visibility == "ephemeral"
    assert text_of(odd).startswith("That is not PromQL Prometheus can read (")
    assert "query failed" not in text_of(odd) and "invalid parameter" not in text_of(odd)


async def test_a_prometheus_that_is_down_or_silent_is_one_sentence_within_the_timeout(
    live_world: LiveWorld, database: Database, http: httpx.AsyncClient, silent_port: int
) -> None:
    down = metrics_harness(
        live_world, database, http, url=f"http://127.0.0.1:{free_port()}", timeout=1
    )
    for command in ("metrics up", "metrics checkout --compare 1d"):
        reply = await down.say(command)
        assert reply.visibility == "ephemeral"
        assert text_of(reply) == (
            "Prometheus is not answering right now, so there are no metrics to show."
        )
    silent = metrics_harness(
        live_world, database, http, url=f"http://127.0.0.1:{silent_port}", timeout=1
    )
    started = time.monotonic()
    reply = await silent.say("metrics up --since 1d")
    waited = time.monotonic() - started
    assert text_of(reply) == "Prometheus did not answer in time; try again, or a shorter --since."
    # The deadline holds: 1 s configured, not the HTTP client's own 10 s (generous margin
    # for a loaded machine).
    assert waited < 6, waited
