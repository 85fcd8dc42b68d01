"""The console's JSON carries times as spans the page formats (Unix seconds, never a UTC
clock), answers about an incident whose message is in another channel leave a linked line
where asked, and the incident list says where each incident's message is."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs

import pytest

from bot.settings import Settings
from tests.bot.console.test_api import command
from tests.bot.slack.test_times_and_pointers import payload
from tests.conftest import RunningServer, free_port, start_server

SPAN = re.compile("\ue100(-?\\d+)\\|(-?\\d+)\\|([sm])\ue101")
CONFIG = """
routing:
  default_channel: "#incidents"
services:
  - name: checkout
    channel: "#platform"
"""


@pytest.fixture
async def routed(tmp_path: Path) -> AsyncIterator[RunningServer]:
    config = tmp_path / "lookout.yaml"
    config.write_text(CONFIG)
    settings = Settings(
        data_dir=tmp_path / "data", host="127.0.0.1", port=free_port(), config=config
    )
    server, task, running = await start_server(settings)
    try:
        yield running
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=10)


async def posted_incidents(server: RunningServer, count: int) -> list[dict[str, object]]:
    async with server.client() as client:
        for _ in range(200):
            await server.lookout.notifier.flush()
            found = (await client.get("/console/api/incidents")).json()
            if len([i for i in found if i["message"]]) >= count:
                return list(found)
            await asyncio.sleep(0.05)
    raise AssertionError("the incidents' messages were never posted")


async def test_show_typed_elsewhere_leaves_a_link_and_times_travel_as_spans(
    routed: RunningServer,
) -> None:
    old = (datetime.now(UTC) - timedelta(days=9)).replace(
        hour=15, minute=53, second=43, microsecond=0
    )
    # Another year's time (a start in the future would be the receive time).
    other_year = datetime(2021, 1, 1, tzinfo=UTC)
    async with routed.client() as client:
        for body in (payload("checkout", old), payload("billing", other_year, "DiskFull")):
            assert (await client.post("/webhooks/alertmanager", json=body)).status_code == 200
        incidents = {i["service"]: i for i in await posted_incidents(routed, 2)}
        checkout, billing = incidents["checkout"], incidents["billing"]
        assert checkout["channel"] == "#platform" and billing["channel"] == "#incidents"

        answer = await command(client, "/lookout show 1", channel="#incidents")
        message = answer["message"]
        assert message["channel"] == "#platform" and message["thread_id"] == checkout["message"]
        pointer = answer["pointer"]
        assert pointer["channel"] == "#incidents" and pointer["thread_id"] is None
        [text] = [b["text"] for b in pointer["blocks"]]
        link = re.fullmatch(r"↪ Answered in \[INC-1's thread\]\(#(.+)\) \(#platform\)", text)
        assert link is not None, text
        assert parse_qs(link[1]) == {
            "channel": ["#platform"],
            "message": [checkout["message"]],
            "thread": [checkout["message"]],
        }
        listed = (
            await client.get("/console/api/messages", params={"channel": "#incidents"})
        ).json()
        assert [m["id"] for m in listed if "Answered in" in str(m["blocks"])] == [pointer["id"]]

        # Times: spans of Unix seconds; no UTC clock in what the page formats.
        shown = json.dumps(message["blocks"], ensure_ascii=False)
        assert (str(int(old.timestamp())), "s") in {(m[0], m[2]) for m in SPAN.findall(shown)}
        assert "UTC" not in SPAN.sub("", shown)
        cards = (await client.get("/console/api/messages", params={"channel": "#incidents"})).json()
        card = next(m for m in cards if m["incident_id"] == billing["id"] and not m["thread_id"])
        spans = SPAN.findall(json.dumps(card["blocks"], ensure_ascii=False))
        assert str(int(other_year.timestamp())) in {m[0] for m in spans}
        # The plain text (notifications, fallbacks) gives the date in UTC.
        assert f"{old.day} {old:%b} 15:53:43 UTC" in answer["text"]


async def test_the_timeline_is_in_event_order_with_dates(routed: RunningServer) -> None:
    """An incident opened days before it reopened lists OPENED first, each with its date."""
    opened = (datetime.now(UTC) - timedelta(days=3)).replace(
        hour=15, minute=53, second=0, microsecond=0
    )
    reopened = (datetime.now(UTC) - timedelta(days=1)).replace(
        hour=3, minute=0, second=0, microsecond=0
    )
    async with routed.client() as client:
        assert (
            await client.post("/webhooks/alertmanager", json=payload("billing", opened))
        ).status_code == 200
        await posted_incidents(routed, 1)
        async with routed.lookout.database.unit_of_work() as uow:
            # Recorded in the other order than they happened, as a late delivery would be.
            await uow.incidents.add_event(
                incident_id=1, kind="reopened", text="Alert X reopened it", at=reopened
            )
        answer = await command(client, "/lookout timeline 1", channel="#incidents")
    lines = answer["text"].splitlines()
    kinds = [line for line in lines if "OPENED" in line]
    assert "REOPENED" in kinds[-1] and "REOPENED" not in kinds[0], kinds
    assert kinds[0].startswith(f"{opened.day} {opened:%b} 15:53:00 UTC")
    assert kinds[-1].startswith(f"{reopened.day} {reopened:%b} 03:00:00 UTC")
