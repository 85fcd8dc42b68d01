"""`lookout serve` killed with SIGKILL again and again during an alert storm: no alert that got
a 200 is lost, and no incident gets two root messages, on the console and on Slack (the fake
Slack Web API lives in the test process and outlives every kill)."""

from __future__ import annotations

import asyncio
import itertools
import os
import random
import signal
import sqlite3
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.bot.slack.fake_slack import start_fake_slack
from tests.conftest import free_port

pytestmark = pytest.mark.sqlite  # reads the SQLite file; test_replica_crashes.py is PostgreSQL's

KILLS = 20
SENDERS = 4
CONFIG = "knowledge:\n  enabled: false\nrouting:\n  default_channel: C0INCIDENTS\n"


def batch(number: int) -> dict[str, Any]:
    """Twenty new alerts of one new service: an incident per batch."""
    now = datetime.now(UTC).isoformat()
    service = f"svc-{number}"
    return {
        "version": "4",
        "groupKey": f'{{}}:{{service="{service}"}}',
        "status": "firing",
        "alerts": [
            {
                "labels": {
                    "alertname": f"Alert{i % 4}",
                    "service": service,
                    "instance": f"host-{number}-{i}",
                    "severity": "critical",
                },
                "annotations": {"summary": f"batch {number} alert {i}"},
                "startsAt": now,
            }
            for i in range(20)
        ],
    }


async def wait_ready(base: str, process: subprocess.Popen[bytes]) -> None:
    """Until /readyz says 200; a process starts in seconds, more on a busy machine."""
    async with httpx.AsyncClient(timeout=2) as client:
        for _ in range(1200):
            if process.poll() is not None:
                raise AssertionError(f"lookout exited with {process.returncode}")
            try:
                if (await client.get(f"{base}/readyz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.05)
    raise AssertionError("lookout did not become ready")


async def send_until_killed(
    base: str, numbers: itertools.count[int], accepted: set[str], stop: asyncio.Event
) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        while not stop.is_set():
            body = batch(next(numbers))
            try:
                response = await client.post(f"{base}/webhooks/alertmanager", json=body)
            except httpx.TransportError:
                return  # killed mid-request: no 200, so nothing was promised
            if response.status_code == 200:
                accepted.update(a["labels"]["instance"] for a in body["alerts"])


async def test_sigkill_during_a_storm_loses_no_alert_and_posts_no_incident_twice(
    tmp_path: Path,
) -> None:
    fake, fake_server, fake_task = await start_fake_slack()
    config = tmp_path / "lookout.yaml"
    config.write_text(CONFIG)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "LOOKOUT_DATA_DIR": str(tmp_path / "data"),
        "LOOKOUT_CONFIG": str(config),
        "LOOKOUT_PORT": str(port),
        "SLACK_BOT_TOKEN": "xoxb-test-token",
        "SLACK_SIGNING_SECRET": "secret",
        "SLACK_API_URL": fake.api_url,
    }
    numbers = itertools.count()
    accepted: set[str] = set()
    rng = random.Random(7)

    def start() -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, "-m", "bot", "serve"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    try:
        for _ in range(KILLS):
            process = start()
            await wait_ready(base, process)
            stop = asyncio.Event()
            senders = [
                asyncio.create_task(send_until_killed(base, numbers, accepted, stop))
                for _ in range(SENDERS)
            ]
            await asyncio.sleep(rng.uniform(0.2, 1.2))
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=10)
            stop.set()
            await asyncio.gather(*senders)
        process = start()
        await wait_ready(base, process)
        database = tmp_path / "data" / "lookout.db"
        # Rows claimed by a killed process wait a minute in case it still posts (another
        # replica would): age them, as that minute would.
        with sqlite3.connect(database) as connection:
            for table in ("chat_threads", "chat_messages"):
                connection.execute(
                    f"UPDATE {table} SET updated_at = '2000-01-01 00:00:00.000000' "
                    "WHERE message_id IS NULL"
                )
        roots = await _settled(database)
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=20)
    finally:
        fake_server.should_exit = True
        await asyncio.wait_for(fake_task, timeout=10)

    with sqlite3.connect(database) as connection:
        stored = {
            row[0]
            for row in connection.execute("SELECT json_extract(labels, '$.instance') FROM alerts")
        }
        incidents = [row[0] for row in connection.execute("SELECT id FROM incidents")]
        threads = dict(
            connection.execute(
                "SELECT incident_id, id FROM chat_threads WHERE platform = 'slack'"
            ).fetchall()
        )
    assert accepted and accepted <= stored, f"lost: {sorted(accepted - stored)[:5]}"
    assert len(incidents) > KILLS
    # One console root message per incident, whatever the kills interrupted.
    assert roots == {incident: 1 for incident in incidents}
    # One Slack root post per incident: every post carries its row's token.
    tokens = Counter(
        call.params["metadata"]["event_payload"]["intent"]
        for call in fake.calls_to("chat.postMessage")
        if "thread_ts" not in call.params and call.params.get("metadata")
    )
    assert max(tokens.values()) == 1, tokens.most_common(3)
    assert set(tokens) == {f"lookout:slack:incident:{row}" for row in threads.values()}
    assert set(threads) == set(incidents)


async def _settled(database: Path) -> dict[int, int]:
    """Console root messages per incident, once every incident has its messages on the
    console and on Slack."""
    for _ in range(600):
        with sqlite3.connect(database) as connection:
            behind = connection.execute(
                "SELECT count(*) FROM incidents i "
                "CROSS JOIN (SELECT 'console' AS platform UNION ALL SELECT 'slack') p "
                "LEFT JOIN chat_threads t ON t.incident_id = i.id AND t.platform = p.platform "
                "WHERE t.id IS NULL OR t.message_id IS NULL OR t.rendered_revision < i.revision"
            ).fetchone()[0]
            roots = dict(
                connection.execute(
                    "SELECT incident_id, count(*) FROM console_messages WHERE thread_id IS NULL "
                    "AND incident_id IS NOT NULL GROUP BY incident_id"
                ).fetchall()
            )
        if behind == 0:
            return roots
        await asyncio.sleep(0.1)
    raise AssertionError(f"{behind} incident messages still behind")
