"""End to end with the real binaries on loopback: an exporter whose values the test moves,
Prometheus scraping it and evaluating a rule, Alertmanager delivering to Lookout's webhook.
A change is posted, then the error ratio jumps: the rule fires, the alert travels through
Alertmanager to Lookout, the incident appears with the change on its message, its context is
posted in its thread before anyone asks, and `correlate` shows the moved metric and the
change."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from bot.settings import Settings
from tests.conftest import RunningServer, free_port, start_server
from tests.integrations.alertmanager_process import (
    ALERTMANAGER,
    running_alertmanager,
)
from tests.integrations.alertmanager_process import SKIP_REASON as AM_SKIP
from tests.integrations.prometheus_process import (
    PROMETHEUS,
    SKIP_REASON,
    exporter_server,
    running_prometheus,
)

pytestmark = [
    pytest.mark.skipif(PROMETHEUS is None, reason=SKIP_REASON),
    pytest.mark.skipif(ALERTMANAGER is None, reason=AM_SKIP),
]
TOKEN = "pipeline-token"


@dataclass
class World:
    lookout: RunningServer
    prometheus: str
    values: dict[str, float]


@pytest.fixture
def exporter() -> Iterator[tuple[str, dict[str, float]]]:
    values = {"checkout": 0.01}

    def page(path: str) -> bytes | None:
        if path != "/metrics":
            return None
        lines = ["# TYPE demo_error_ratio gauge"]
        lines += [f'demo_error_ratio{{service="{s}"}} {v}' for s, v in values.items()]
        return ("\n".join(lines) + "\n").encode()

    with exporter_server(page) as address:
        yield address, values


@pytest.fixture
async def world(tmp_path: Path, exporter: tuple[str, dict[str, float]]) -> AsyncIterator[World]:
    address, values = exporter
    port = free_port()
    config = tmp_path / "lookout.yml"
    config.write_text(
        "services:\n"
        "  - {name: checkout, tier: 1}\n"
        "signals:\n"
        "  lookback_minutes: 0.5\n"
        "  after_minutes: 0.2\n"
        "  step_seconds: 1\n"
        "  queries:\n"
        "    - {name: errors, expr: 'max(demo_error_ratio{service=\"$service\"})', unit: percent}\n"
        "catalog: {service_graph: false}\n"
        "context_posts: {delay_seconds: 0}\n"
    )
    am_folder = tmp_path / "am"
    am_folder.mkdir()
    prom_folder = tmp_path / "prom"
    prom_folder.mkdir()
    (prom_folder / "rules.yml").write_text(
        "groups:\n"
        "  - name: pipeline\n"
        "    interval: 1s\n"
        "    rules:\n"
        "      - alert: HighErrorRate\n"
        "        expr: demo_error_ratio > 0.2\n"
        "        labels: {severity: critical}\n"
        "        annotations: {summary: '{{ $labels.service }} errors above 20 %'}\n"
    )
    with running_alertmanager(
        am_folder,
        "route:\n"
        "  receiver: lookout\n"
        "  group_by: [service]\n"
        "  group_wait: 1s\n"
        "  group_interval: 2s\n"
        "  repeat_interval: 1m\n"
        "receivers:\n"
        "  - name: lookout\n"
        "    webhook_configs:\n"
        f"      - url: http://127.0.0.1:{port}/webhooks/alertmanager\n"
        "        send_resolved: true\n"
        f"        http_config: {{authorization: {{credentials: {TOKEN}}}}}\n",
    ) as alertmanager:
        prometheus_config = (
            "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
            "rule_files: [rules.yml]\n"
            "alerting:\n"
            f"  alertmanagers: [{{static_configs: [{{targets: ['{alertmanager[7:]}']}}]}}]\n"
            "scrape_configs:\n"
            f"  - {{job_name: demo, static_configs: [{{targets: ['{address}']}}]}}\n"
        )

        def ready(url: str) -> bool:
            answer = httpx.get(f"{url}/api/v1/query", params={"query": "demo_error_ratio"})
            return bool(answer.json()["data"]["result"])

        with running_prometheus(
            prom_folder,
            prometheus_config,
            ready,
            waiting_for="scrape the exporter",
            extra_args=("--rules.alert.resend-delay=1s",),
        ) as prometheus:
            settings = Settings(
                data_dir=tmp_path / "data",
                port=port,
                config=config,
                webhook_token=SecretStr(TOKEN),
                prometheus_url=prometheus,
            )
            server, task, running = await start_server(settings)
            try:
                yield World(running, prometheus, values)
            finally:
                server.should_exit = True
                await asyncio.wait_for(task, timeout=10)


async def incidents(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    return list((await client.get("/console/api/incidents")).json())


async def first_thread_reply(world: World, client: httpx.AsyncClient) -> str:
    """The first reply in INC-1's thread, once there is one."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        await world.lookout.lookout.notifier.flush()
        roots = (await client.get("/console/api/messages", params={"channel": "#incidents"})).json()
        root = next((m for m in roots if m["incident_id"] == 1), None)
        if root is not None:
            thread = (
                await client.get(
                    "/console/api/messages", params={"channel": "#incidents", "thread": root["id"]}
                )
            ).json()
            if thread:
                return "\n".join(str(b.get("text", "")) for b in thread[0]["blocks"])
        await asyncio.sleep(0.5)
    raise AssertionError("nothing was posted in the incident's thread")


async def test_a_rule_fires_through_alertmanager_and_correlate_finds_the_change_and_metric(
    world: World,
) -> None:
    await asyncio.sleep(12)  # a baseline of healthy scrapes
    now = datetime.now(UTC)
    change = {
        "id": "deploy-981",
        "kind": "deployment",
        "services": ["checkout"],
        "version": "v2.3.1",
        "previous_version": "v2.3.0",
        "author": "dana",
        "started_at": (now - timedelta(seconds=40)).isoformat(),
        "finished_at": now.isoformat(),
    }
    headers = {"authorization": f"Bearer {TOKEN}"}
    async with world.lookout.client(headers=headers) as client:
        posted = await client.post("/webhooks/changes", json=change)
        assert posted.status_code == 200, posted.text
        world.values["checkout"] = 0.6  # the deploy breaks checkout
        deadline = time.monotonic() + 60
        while not (found := await incidents(client)):
            assert time.monotonic() < deadline, "no incident arrived through Alertmanager"
            await asyncio.sleep(0.5)
        [incident] = found
        assert incident["title"].startswith("checkout: HighErrorRate")
        unasked = await first_thread_reply(world, client)
        assert unasked.startswith("🔎 **What changed around INC-1?**"), unasked
        assert "• checkout v2.3.1 deployment by dana, 0 min before — score 0.8" in unasked
        await asyncio.sleep(13)  # let Prometheus record the move past the start
        answer = await client.post(
            "/console/api/command", json={"text": f"correlate {incident['ref']}", "user": "ann"}
        )
        shown = await client.post(
            "/console/api/command", json={"text": f"show {incident['ref']}", "user": "ann"}
        )
        await world.lookout.lookout.notifier.flush()
        messages = (
            await client.get("/console/api/messages", params={"channel": "#incidents"})
        ).json()
    text = answer.json()["text"]
    assert "checkout v2.3.1 deployment by dana, 0 min before — score 0.8" in text, text
    assert "checkout: errors 1.0 % ↑ 60.0 %" in text, text
    assert "most likely: metrics: checkout errors" in text  # a z of 60 outweighs a 0.85 change
    assert "Confidence 0." in text and "evidence quality 1.00" in text
    assert "Stored snapshot taken at" in shown.json()["text"]
    card = [b.get("text", "") for b in messages[0]["blocks"]]
    assert any(line.startswith("⚠ checkout v2.3.1 deployed") for line in card), card
