"""Ingestion never waits on a machine a command is asking: while a slow Loki keeps `correlate`
waiting, an Alertmanager webhook to the same server (one SQLite file, which lets one
transaction write at a time) is answered — its alert committed — before Loki has answered."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.settings import Settings
from tests.conftest import free_port, start_server
from tests.integrations.fake_loki import fake_loki
from tests.knowledge.test_knowledge_server import alert

LOKI_TAKES = 6.0  # seconds the slow Loki takes to answer


async def incidents(client: Any) -> list[dict[str, Any]]:
    return list((await client.get("/console/api/incidents")).json())


async def test_an_alert_is_taken_while_correlate_waits_on_a_slow_loki(tmp_path: Path) -> None:
    now = datetime.now(UTC)
    line = "ERROR payment declined code=51"
    entries = [({"service": "checkout"}, int((now - timedelta(minutes=1)).timestamp() * 1e9), line)]
    config = tmp_path / "lookout.yml"
    config.write_text(
        "logs: {timeout_seconds: 20}\n"
        "context_posts: {enabled: false}\n"
        "knowledge: {enabled: false}\n"
    )
    asked = threading.Event()
    with fake_loki(entries, delay=LOKI_TAKES, asked=asked) as loki:
        settings = Settings(
            data_dir=tmp_path / "data", port=free_port(), config=config, loki_url=loki
        )
        server, task, running = await start_server(settings)
        try:
            async with running.client() as client:
                first = alert(
                    "HighErrorRate", "checkout", "5xx above 5 %", now - timedelta(minutes=2)
                )
                assert (await client.post("/webhooks/alertmanager", json=first)).status_code == 200
                correlate = asyncio.create_task(
                    client.post(
                        "/console/api/command", json={"text": "correlate INC-1", "user": "ann"}
                    )
                )
                assert await asyncio.to_thread(asked.wait, 20), "correlate never asked Loki"
                second = alert("DiskFull", "search", "disk 97 % full", now)
                taken = await client.post("/webhooks/alertmanager", json=second)
                assert taken.status_code == 200, taken.text
                # Answered while `correlate` still waits on Loki, not after it.
                assert not correlate.done()
                assert [i["ref"] for i in await incidents(client)] == ["INC-2", "INC-1"]
                answer = (await correlate).json()
        finally:
            server.should_exit = True
            await asyncio.wait_for(task, timeout=10)
    assert answer["text"].startswith("**Context of INC-1**"), answer["text"]
    assert "payment declined code=<*>" in answer["text"] or "Error-log patterns" in answer["text"]
