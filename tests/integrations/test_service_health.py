"""Service health from a real Prometheus: the Debian `prometheus` binary on a loopback port
scrapes a tiny exporter served by this test (request counters by status code, a queue-depth
gauge the test moves, and probe targets some of which are down), and Lookout's health
queries, the blast-radius skill and a live tracker read what it answers."""

from __future__ import annotations

import asyncio
import itertools
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest
import yaml

from bot.background.blast_trackers import BlastTrackerWatcher
from bot.background.ingest import AlertIngestor
from bot.background.notifier import Notifier
from bot.metrics import Metrics
from bot.settings import Settings
from core.blast_radius import ServiceStatus
from core.service_health import ERROR_RATIO, HealthQuery, HealthRules
from integrations.prometheus import PrometheusClient
from integrations.service_health import UNREACHABLE, PrometheusHealth
from skills.catalog import default_registry
from skills.context import SkillTools
from skills.contract import Context, Reply, Role
from skills.dispatcher import AccessPolicy, Dispatcher
from storage.database import Database
from tests.bot.background.test_blast_trackers import ThreadedPlatform, rows
from tests.conftest import database_url_for, free_port, start_server
from tests.integrations.prometheus_process import PROMETHEUS as PROMETHEUS_BINARY
from tests.integrations.prometheus_process import (
    SKIP_REASON,
    exporter_server,
    running_prometheus,
)
from tests.skills.conftest import Clock, Harness, make_alert, text_of
from tests.skills.test_intelligence_skills import TOPOLOGY

pytestmark = pytest.mark.skipif(PROMETHEUS_BINARY is None, reason=SKIP_REASON)

QUEUE = HealthQuery(
    name="queue depth",
    expr="max by (service) (queue_depth)",
    degraded_above=100,
    failing_above=1000,
)


class _State:
    """What the exporter shows; counters grow by the same amounts at every scrape, so every
    rate ratio is exact: payments-api 4.2 % errors (`code`), reports 10 % (`status`)."""

    scrapes: ClassVar[itertools.count[int]] = itertools.count(1)
    queue: ClassVar[dict[str, float]] = {"reports": 3.0}
    lock: ClassVar[threading.Lock] = threading.Lock()

    @classmethod
    def metrics(cls) -> bytes:
        with cls.lock:
            n = next(cls.scrapes)
            queue = dict(cls.queue)
        lines = [
            "# TYPE http_requests_total counter",
            f'http_requests_total{{service="payments-api",code="200"}} {958 * n}',
            f'http_requests_total{{service="payments-api",code="500"}} {42 * n}',
            f'http_requests_total{{service="reports",status="200"}} {90 * n}',
            f'http_requests_total{{service="reports",status="503"}} {10 * n}',
            f'http_requests_total{{service="checkout",code="200"}} {1000 * n}',
            'http_requests_total{service="checkout",code="500"} 0',
            "# TYPE queue_depth gauge",
            *(f'queue_depth{{service="{name}"}} {value}' for name, value in queue.items()),
        ]
        return ("\n".join(lines) + "\n").encode()


def _page(path: str) -> bytes | None:
    if path == "/metrics":
        return _State.metrics()
    if path == "/probe":  # a target that is up, and has nothing else to say
        return b"# nothing here\n"
    return None


@pytest.fixture(scope="module")
def exporter() -> Iterator[str]:
    with exporter_server(_page) as address:
        yield address


@pytest.fixture(scope="module")
def prometheus_url(exporter: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder: Path = tmp_path_factory.mktemp("prometheus-health")
    down, also_down = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
    config = {
        "global": {"scrape_interval": "1s"},
        "scrape_configs": [
            {"job_name": "app", "static_configs": [{"targets": [exporter]}]},
            {
                # `up` per service, as a Kubernetes ServiceMonitor labels it: search has one
                # target of two down, mailer its only one.
                "job_name": "probes",
                "metrics_path": "/probe",
                "static_configs": [
                    {"targets": [exporter, down], "labels": {"service": "search"}},
                    {"targets": [also_down], "labels": {"service": "mailer"}},
                ],
            },
        ],
    }

    def scraped(url: str) -> bool:
        def count(expr: str) -> int:
            answer = httpx.get(f"{url}/api/v1/query", params={"query": expr}, timeout=1)
            return len(answer.json()["data"]["result"]) if answer.status_code == 200 else 0

        return count(ERROR_RATIO) == 3 and count('up{job="probes"}') == 3

    with running_prometheus(
        folder, yaml.safe_dump(config), scraped, waiting_for="scrape the exporter twice"
    ) as url:
        yield url


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


def health_of(url: str, http: httpx.AsyncClient, **rules: Any) -> PrometheusHealth:
    return PrometheusHealth(PrometheusClient(url, http, timeout=2), HealthRules(**rules))


async def test_the_default_queries_read_errors_and_targets(
    prometheus_url: str, http: httpx.AsyncClient
) -> None:
    snapshot = await health_of(prometheus_url, http).read()
    assert snapshot.problem is None
    assert snapshot.answered == ("error ratio", "targets down")
    found = {name: (r.status, r.text) for name, r in snapshot.readings.items()}
    assert found == {
        "payments-api": (ServiceStatus.DEGRADED, "error ratio 4.2 %"),
        "reports": (ServiceStatus.FAILING, "error ratio 10.0 %"),
        "checkout": (ServiceStatus.HEALTHY, "error ratio 0.0 %"),
        "search": (ServiceStatus.DEGRADED, "targets down 50.0 %"),
        "mailer": (ServiceStatus.FAILING, "targets down 100.0 %"),
    }


async def test_one_round_of_queries_serves_concurrent_and_cached_reads(
    prometheus_url: str,
) -> None:
    asked: list[str] = []

    async def count(request: httpx.Request) -> None:
        asked.append(request.url.params["query"])

    now = [100.0]
    async with httpx.AsyncClient(event_hooks={"request": [count]}) as http:
        health = PrometheusHealth(
            PrometheusClient(prometheus_url, http), HealthRules(), monotonic=lambda: now[0]
        )
        first, *others = await asyncio.gather(*(health.read() for _ in range(5)))
        assert all(other is first for other in others)
        assert len(asked) == 2  # one vector query per health query, for every service
        now[0] += 9.9
        assert await health.read() is first  # still fresh (cache_seconds: 10)
        now[0] += 0.2
        fresh = await health.read()
    assert fresh is not first and len(asked) == 4
    assert fresh.readings["payments-api"].text == "error ratio 4.2 %"


async def test_a_rejected_query_is_named_and_the_others_still_count(
    prometheus_url: str, http: httpx.AsyncClient
) -> None:
    broken = HealthQuery(
        name="latency", expr="sum by (service) (", degraded_above=1, failing_above=2
    )
    default = HealthRules().queries
    snapshot = await health_of(prometheus_url, http, queries=[*default, broken]).read()
    assert snapshot.answered == ("error ratio", "targets down")
    assert snapshot.readings["reports"].status is ServiceStatus.FAILING
    assert snapshot.problem == (
        "Prometheus did not answer the health query “latency” (see Lookout's log), "
        "so statuses come from the other queries and open alerts."
    )


async def test_an_unreachable_or_silent_prometheus_is_one_sentence(
    http: httpx.AsyncClient,
) -> None:
    gone = await health_of(f"http://127.0.0.1:{free_port()}", http).read()
    assert (gone.readings, gone.problem) == ({}, UNREACHABLE)
    # A Prometheus that takes the connection and never answers costs the timeout, no more.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        health = PrometheusHealth(
            PrometheusClient(url, http, timeout=30), HealthRules(timeout_seconds=0.3)
        )
        started = time.monotonic()
        snapshot = await health.read()
        assert time.monotonic() - started < 2
    assert snapshot.problem == UNREACHABLE


def skills_harness(database: Database, clock: Clock, health: PrometheusHealth) -> Harness:
    dispatcher = Dispatcher(
        registry=default_registry(),
        database=database,
        access=AccessPolicy(default_role=Role.RESPONDER),
        clock=clock,
        tools=SkillTools(health=health),
        topology=lambda: TOPOLOGY,
    )
    ingestor = AlertIngestor(database, clock=clock, topology=lambda: TOPOLOGY)
    return Harness(database, dispatcher, ingestor, clock)


def contexts(reply: Reply) -> list[str]:
    return [block.text for block in reply.blocks if isinstance(block, Context)]


async def test_blast_radius_says_where_each_status_came_from(
    prometheus_url: str, http: httpx.AsyncClient, tmp_path: Path
) -> None:
    database = Database(database_url_for(tmp_path))
    await database.upgrade()
    world = skills_harness(database, Clock(), health_of(prometheus_url, http))
    try:
        reply = await world.say("blast-radius postgres-primary")
        statuses = {name: row[5] for name, row in rows(reply).items()}
        assert statuses == {
            "payments-api": "🟠 degraded (error ratio 4.2 %)",
            "reports": "🔴 failing (error ratio 10.0 %)",
            "checkout": "🟢 healthy",
            "web": "🟢 healthy",
        }
        assert "postgres-primary: 4 dependent services (1 failing, 1 degraded)" in text_of(reply)
        assert contexts(reply) == [
            "Status from open alerts and Prometheus (error ratio, targets down)."
        ]
        await world.ingestor.ingest(
            [
                make_alert("HighErrorRate", "payments-api", "critical", 0),
                make_alert("SlowReports", "reports", "error", 1),
            ]
        )
        statuses = {
            name: row[5]
            for name, row in rows(await world.say("blast-radius postgres-primary")).items()
        }
        assert statuses["payments-api"] == "🔴 failing"  # the alert is worse: its word counts
        assert statuses["reports"] == "🔴 failing (alerts; error ratio 10.0 %)"
    finally:
        await database.dispose()


async def test_blast_radius_without_prometheus_still_answers_from_alerts(
    http: httpx.AsyncClient, tmp_path: Path
) -> None:
    database = Database(database_url_for(tmp_path))
    await database.upgrade()
    world = skills_harness(database, Clock(), health_of(f"http://127.0.0.1:{free_port()}", http))
    try:
        await world.ingestor.ingest([make_alert("HighErrorRate", "payments-api", "critical", 0)])
        reply = await world.say("blast-radius postgres-primary")
        assert rows(reply)["payments-api"][5] == "🔴 failing"
        assert contexts(reply) == [UNREACHABLE]
        tracked = await world.say("blast-radius postgres-primary", incident_id=1)
        assert UNREACHABLE in contexts(tracked)
    finally:
        await database.dispose()


async def test_a_tracker_follows_prometheus_on_its_timer(
    prometheus_url: str, http: httpx.AsyncClient, tmp_path: Path
) -> None:
    """No alert changes: only the queue-depth gauge moves, and the timer-driven pass sees it."""
    database = Database(database_url_for(tmp_path))
    await database.upgrade()
    clock = Clock()
    health = health_of(prometheus_url, http, queries=[QUEUE], cache_seconds=0)
    world = skills_harness(database, clock, health)
    platform = ThreadedPlatform(name="test")  # the harness speaks as platform `test`
    notifier = Notifier(
        database, [platform], channel_for=lambda *_: "#incidents", metrics=Metrics(), clock=clock
    )
    watcher = BlastTrackerWatcher(
        database,
        topology=lambda: TOPOLOGY,
        health=health,
        on_change=notifier.wake,
        metrics=Metrics(),
        clock=clock,
        interval=0.2,
    )
    try:
        await world.ingestor.ingest([make_alert("PostgresDown", "postgres-primary", "critical")])
        await notifier.flush()
        await world.say("blast-radius", incident_id=1)
        await notifier.flush()
        [(tracker_id, tracker)] = platform.trackers().items()
        assert rows(tracker.reply)["reports"][5] == "🟢 healthy"
        notifier.start()
        watcher.start()
        with _State.lock:
            _State.queue["reports"] = 250.0
        async with asyncio.timeout(15):
            while True:
                platform.changed.clear()
                if rows(platform.messages[tracker_id].reply)["reports"][5] != "🟢 healthy":
                    break
                await platform.changed.wait()
        edited = platform.messages[tracker_id].reply
        assert rows(edited)["reports"][5] == "🟠 degraded (queue depth 250)"
        assert len(platform.trackers()) == 1 and ("update", tracker_id) in platform.calls
        assert "Status from open alerts and Prometheus (queue depth)." in contexts(edited)
    finally:
        with _State.lock:
            _State.queue["reports"] = 3.0
        await watcher.stop()
        await notifier.stop()
        await database.dispose()


async def test_the_process_asks_prometheus_when_prometheus_url_is_set(
    prometheus_url: str, tmp_path: Path
) -> None:
    config = tmp_path / "lookout.yaml"
    services = [
        {"name": "postgres-primary", "tier": 1},
        {"name": "payments-api", "depends_on": ["postgres-primary"]},
        {"name": "reports", "depends_on": ["postgres-primary"]},
    ]
    config.write_text(
        yaml.safe_dump(
            {
                "catalog": {"service_graph": False},
                "health": {"cache_seconds": 1},
                "services": services,
            }
        )
    )
    settings = Settings(
        data_dir=tmp_path / "data", port=free_port(), config=config, prometheus_url=prometheus_url
    )
    server, task, running = await start_server(settings)
    try:
        async with running.client() as client:
            answer = await client.post(
                "/console/api/command", json={"text": "/lookout blast-radius postgres-primary"}
            )
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=10)
    [table] = [block for block in answer.json()["blocks"] if block["type"] == "table"]
    assert {row[0]: row[5] for row in table["rows"]} == {
        "payments-api": "🟠 degraded (error ratio 4.2 %)",
        "reports": "🔴 failing (error ratio 10.0 %)",
    }
