"""Retrieval in the running server: a resolve is indexed in the background, a new incident
like it gets one "Seen before?" reply in its thread, and `lookout knowledge reindex` rebuilds
the index from the command line."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tests.bot.console.test_api import command
from tests.bot.test_cli import lookout
from tests.conftest import RunningServer


def alert(
    name: str,
    service: str,
    summary: str,
    starts: datetime,
    ends: datetime | None = None,
    **labels: str,
) -> dict[str, Any]:
    """An Alertmanager delivery of one alert (resolved when it has ended)."""
    status = "firing" if ends is None else "resolved"
    return {
        "version": "4",
        "groupKey": f'{{}}:{{service="{service}"}}',
        "status": status,
        "receiver": "lookout",
        "alerts": [
            {
                "status": status,
                "labels": {"alertname": name, "service": service, "severity": "critical", **labels},
                "annotations": {"summary": summary},
                "startsAt": starts.isoformat(),
                "endsAt": ends.isoformat() if ends else "0001-01-01T00:00:00Z",
            }
        ],
    }


async def test_a_new_incident_like_a_resolved_one_gets_seen_before(server: RunningServer) -> None:
    knowledge = server.lookout.knowledge
    assert knowledge is not None
    async with server.client() as client:
        summary = "Connection slots exhausted (max_connections=200)"
        now = datetime.now(UTC)
        first = now - timedelta(minutes=120)
        body = alert("PostgresConnectionsExhausted", "orders-db", summary, first)
        assert (await client.post("/webhooks/alertmanager", json=body)).status_code == 200
        await command(client, "/lookout note INC-1 failed over to the replica pg-1")
        # Its alert ends 100 minutes ago: the incident resolves itself, long before the next.
        ended = alert(
            "PostgresConnectionsExhausted",
            "orders-db",
            summary,
            first,
            now - timedelta(minutes=100),
        )
        assert (await client.post("/webhooks/alertmanager", json=ended)).status_code == 200
        for _ in range(300):  # indexed in the background after the resolve
            if "incident:1" in knowledge.index.ids("incident:"):
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("the resolved incident was not indexed")
        again = alert(
            "PostgresConnectionsExhausted",
            "orders-db",
            summary,
            now - timedelta(minutes=1),
            instance="pg-1",
        )
        assert (await client.post("/webhooks/alertmanager", json=again)).status_code == 200
        thread: list[dict[str, Any]] = []
        for _ in range(300):
            await server.lookout.notifier.flush()
            messages = (
                await client.get("/console/api/messages", params={"channel": "#incidents"})
            ).json()
            root = next((m for m in messages if m["incident_id"] == 2), None)
            if root is not None:
                thread = (
                    await client.get(
                        "/console/api/messages",
                        params={"channel": "#incidents", "thread": root["id"]},
                    )
                ).json()
                if thread:
                    break
            await asyncio.sleep(0.05)
    [hint] = thread
    text = "\n".join(b.get("text", "") for b in hint["blocks"])
    assert "**Seen before?** INC-2 looks like:" in text
    assert "INC-1 · orders-db: PostgresConnectionsExhausted" in text
    assert "Why: same service orders-db; alert in common: PostgresConnectionsExhausted" in text


def test_knowledge_reindex_rebuilds_from_the_command_line(tmp_path: Path) -> None:
    env = {"LOOKOUT_DATA_DIR": str(tmp_path / "var")}
    first = lookout("knowledge", "reindex", env=env, timeout=120)
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == (
        "9 documents indexed (9 embedded), 0 removed; the index holds 9 documents"
    )
    assert (tmp_path / "var" / "chroma").is_dir()
