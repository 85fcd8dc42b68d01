"""Dependency health from a real Prometheus serving service-graph metrics the test wrote (see
`live_world`): each call's rate, errors and latency against the same window a day or a week
ago or the hour before, the `health` skill's answer, and `correlate`'s dependency section."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from core.blast_radius import ServiceStatus
from core.dependency_health import DependencyRules
from integrations.dependency_health import DependencyHealthReader
from integrations.prometheus import PrometheusClient
from skills.context import SkillTools
from skills.contract import Image, Table
from storage.database import Database
from tests.conftest import database_url_for, free_port
from tests.integrations.live_world import LiveWorld, alert_at, harness_at
from tests.skills.conftest import Harness, text_of

RULES = DependencyRules(rate_interval="1m")


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


def reader(
    url: str, http: httpx.AsyncClient, rules: DependencyRules = RULES
) -> DependencyHealthReader:
    return DependencyHealthReader(PrometheusClient(url, http), rules)


async def test_each_call_against_the_same_window_a_day_ago(
    live_world: LiveWorld, http: httpx.AsyncClient
) -> None:
    now = live_world.at
    report = await reader(live_world.url, http).read(
        ["checkout"], start=now - timedelta(minutes=15), end=now, against="1d"
    )
    assert report.problem is None
    found = {(edge.client, edge.server): edge for edge in report.edges}
    assert list(found) == [
        ("checkout", "payments"),  # failing first
        ("checkout", "legacy-tax"),  # then degraded
        ("checkout", "inventory"),  # then the busiest
        ("checkout", "cache"),
    ]
    payments = found[("checkout", "payments")]
    assert payments.status is ServiceStatus.FAILING
    assert [(f.signal, f.status) for f in payments.findings] == [
        ("errors", ServiceStatus.FAILING),
        ("latency", ServiceStatus.FAILING),
    ]
    assert payments.baseline is not None and payments.baseline_label == "1d ago"
    assert 0.05 < payments.now.error_ratio < 0.1  # 10 % for 14 of the 15 minutes
    assert payments.baseline.error_ratio == pytest.approx(0.001, rel=0.05)
    assert payments.now.rate == pytest.approx(20, rel=0.05)
    assert payments.baseline.latency == pytest.approx(0.0975, rel=0.05)  # within (50, 100] ms
    assert payments.now.latency > 3 * payments.baseline.latency
    # Called a day ago, not at all now: its traffic fell to nothing.
    gone = found[("checkout", "legacy-tax")]
    assert [(f.signal, f.status) for f in gone.findings] == [("requests", ServiceStatus.DEGRADED)]
    assert math.isnan(gone.now.rate) and gone.baseline is not None
    inventory = found[("checkout", "inventory")]
    assert inventory.status is ServiceStatus.HEALTHY and inventory.baseline_label == "1d ago"
    # New today: nothing a day ago, so it is compared with the hour before.
    cache = found[("checkout", "cache")]
    assert cache.status is ServiceStatus.HEALTHY
    assert cache.baseline_label == "the hour before"
    assert cache.baseline is not None and cache.baseline.rate == pytest.approx(5, rel=0.05)
    # The trend: the moved signal now, and a day ago moved onto today's axis.
    trend, before = payments.trend()
    assert payments.headline == "errors" and trend and before
    assert min(t for t, _ in before) >= live_world.now - 16 * 60


async def test_istio_calls_count_once_and_a_traffic_drop_degrades(
    live_world: LiveWorld, http: httpx.AsyncClient
) -> None:
    now = live_world.at
    report = await reader(live_world.url, http).read(
        ["web"], start=now - timedelta(minutes=10), end=now, against="1h"
    )
    [call] = report.edges
    assert (call.client, call.server, call.source) == ("web", "checkout", "istio")
    assert call.baseline is not None and call.baseline_label == "the hour before"
    # Both proxies report every call; the rate is the calls', not the sum of the reports.
    assert call.baseline.rate == pytest.approx(10, rel=0.05)
    assert call.now.rate < 0.5 * call.baseline.rate
    assert [(f.signal, f.status) for f in call.findings] == [("requests", ServiceStatus.DEGRADED)]
    assert call.now.latency == pytest.approx(0.0975, rel=0.05)  # milliseconds, read as seconds
    assert math.isnan(call.now.error_ratio) or call.now.error_ratio == 0


async def test_every_call_worst_first_and_a_week_ago(
    live_world: LiveWorld, http: httpx.AsyncClient
) -> None:
    now = live_world.at
    every = await reader(live_world.url, http).read(
        None, start=now - timedelta(minutes=10), end=now, against="1w"
    )
    assert [(e.client, e.server, e.status.value) for e in every.edges] == [
        ("checkout", "payments", "failing"),
        ("web", "checkout", "degraded"),
        ("checkout", "legacy-tax", "degraded"),
        ("checkout", "inventory", "healthy"),
        ("checkout", "cache", "healthy"),
    ]
    assert [e.baseline_label for e in every.edges] == [
        "1w ago",
        "1w ago",
        "1w ago",
        "1w ago",
        "the hour before",
    ]


async def test_a_prometheus_that_is_down_is_one_sentence(http: httpx.AsyncClient) -> None:
    down = reader(f"http://127.0.0.1:{free_port()}", http)
    now = datetime.now(UTC)
    report = await down.read(["checkout"], start=now - timedelta(minutes=15), end=now)
    assert report.edges == []
    assert report.problem == "Prometheus could not be reached, so there is no dependency health."


# ------------------------------------------------------------------------ the skill


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[Database]:
    db = Database(database_url_for(tmp_path))
    await db.upgrade()
    yield db
    await db.dispose()


def world_harness(
    live_world: LiveWorld, database: Database, http: httpx.AsyncClient, url: str | None = None
) -> Harness:
    tools = SkillTools(dependencies=reader(url or live_world.url, http))
    return harness_at(database, tools, live_world.at)


async def test_health_answers_with_a_table_a_trend_and_a_chart(
    live_world: LiveWorld, database: Database, http: httpx.AsyncClient
) -> None:
    harness = world_harness(live_world, database, http)
    reply = await harness.say("health checkout")
    text = text_of(reply)
    assert text.startswith(
        "**Dependency health: The calls checkout makes, last 15m against 1d ago**\n"
        "🔴 1 failing, 🟠 1 degraded, 🟢 2 healthy"
    ), text
    table = next(block for block in reply.blocks if isinstance(block, Table))
    assert table.columns == ("Call", "Status", "Requests", "Errors", "p95", "Trend")
    call, status, requests, errors, latency, trend = table.rows[0]
    assert (call, status) == ("checkout → payments", "🔴 errors, latency")
    assert float(requests.split("/s (")[0]) == pytest.approx(20, rel=0.05)
    assert errors.endswith("(was 0.1 %)")
    assert latency.endswith(" ms)") and "(was 9" in latency  # p95 of (50, 100] ms
    assert trend.startswith("errors ") and set(trend[7:]) <= set("▁▂▃▄▅▆▇█")
    assert table.rows[1][:3] == ("checkout → legacy-tax", "🟠 requests", "—")
    assert table.rows[3][0] == "checkout → cache"
    assert any(isinstance(block, Image) for block in reply.blocks)
    assert "Some calls had no traffic then; compared with: the hour before." in text
    assert "From Tempo's traces_service_graph_*." in text


async def test_health_in_an_incident_thread_reads_its_services(
    live_world: LiveWorld, database: Database, http: httpx.AsyncClient
) -> None:
    harness = world_harness(live_world, database, http)
    await harness.ingestor.ingest(
        [alert_at("HighErrorRate", "web", live_world.at - timedelta(minutes=13))]
    )
    reply = await harness.say("health --since 10m --against 1h", incident_id=1)
    text = text_of(reply)
    assert text.startswith(
        "**Dependency health: The calls of INC-1's services (web), last 10m against the hour "
        "before**\n🟠 1 degraded"
    ), text
    table = next(block for block in reply.blocks if isinstance(block, Table))
    assert table.rows[0][:2] == ("web → checkout", "🟠 requests")


async def test_health_of_a_service_without_calls_and_without_prometheus(
    live_world: LiveWorld, database: Database, http: httpx.AsyncClient
) -> None:
    harness = world_harness(live_world, database, http)
    quiet = await harness.say("health ledger")
    assert text_of(quiet) == (
        "Prometheus has no service-graph metrics for the calls ledger makes in the last 15m "
        "(it reads Tempo's traces_service_graph_* and Istio's istio_requests_total)."
    )
    down = world_harness(live_world, database, http, url=f"http://127.0.0.1:{free_port()}")
    answer = await down.say("health checkout")
    assert answer.visibility == "ephemeral"
    assert text_of(answer) == "Prometheus could not be reached, so there is no dependency health."
    bad = await harness.say("health checkout --against 2d")
    assert bad.visibility == "ephemeral" and "against" in text_of(bad)


async def test_correlate_says_which_calls_moved_against_the_hour_before(
    live_world: LiveWorld, database: Database, http: httpx.AsyncClient
) -> None:
    harness = world_harness(live_world, database, http)
    await harness.ingestor.ingest(
        [alert_at("HighErrorRate", "checkout", live_world.at - timedelta(minutes=13))]
    )
    reply = await harness.say("correlate INC-1")
    text = text_of(reply)
    assert "most likely: dependency: checkout → payments errors" in text, text
    assert "**Dependency health**\n• 🔴 checkout → payments: errors " in text, text
    assert "(was 0.1 %), latency " in text and "× baseline) — against the hour before" in text
    async with database.unit_of_work() as uow:
        stored = await uow.contexts.latest(incident_id=1)
    assert stored is not None
    assert [d["server"] for d in stored.snapshot["dependencies"]] == [
        "payments",
        "inventory",
        "cache",
    ]
    shown = text_of(await harness.say("show INC-1"))
    assert "🔴 checkout → payments: errors" in shown
