"""The live blast-radius tracker through the real Slack stack: a signed slash command, the
process's own tracker watcher and notifier, and the fake Slack Web API recording one
`chat.postMessage` in the incident's thread followed by `chat.update`s of that message."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from storage.trackers import BLAST_MESSAGE
from tests.bot.slack.conftest import SlackWorld, slack_world, slash_command
from tests.bot.slack.fake_slack import Call

SERVICES = [
    {"name": "postgres-primary", "team": "data", "tier": 1},
    {"name": "payments-api", "team": "payments", "tier": 2, "depends_on": ["postgres-primary"]},
    {"name": "reports", "team": "data", "tier": 3, "depends_on": ["postgres-primary"]},
    {"name": "web", "team": "edge", "tier": 1, "depends_on": ["payments-api"]},
]
START = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)


def alert(name: str, service: str, seconds: int, severity: str = "critical") -> dict[str, Any]:
    return {
        "version": "4",
        "groupKey": f'{{}}:{{alertname="{name}"}}',
        "status": "firing",
        "receiver": "lookout",
        "alerts": [
            {
                "status": "firing",
                "labels": {"alertname": name, "service": service, "severity": severity},
                "annotations": {"summary": f"{name} on {service}"},
                "startsAt": (START + timedelta(seconds=seconds)).isoformat(),
                "endsAt": "0001-01-01T00:00:00Z",
            }
        ],
    }


@pytest.fixture
async def slack_with_catalog(tmp_path: Path) -> AsyncIterator[SlackWorld]:
    config = yaml.safe_dump({"routing": {"default_channel": "#incidents"}, "services": SERVICES})
    async with slack_world(tmp_path, config) as world:
        yield world


def shown(call: Call) -> str:
    return json.dumps(call.params.get("blocks"), ensure_ascii=False)


def tracker_posts(world: SlackWorld) -> list[Call]:
    return [
        call
        for call in world.fake.calls_to("chat.postMessage")
        if "Blast radius of postgres-primary* (INC-1) — live" in shown(call)
    ]


async def post_alert(world: SlackWorld, body: dict[str, Any]) -> None:
    async with world.client() as client:
        response = await client.post("/webhooks/alertmanager", json=body)
    assert response.status_code == 200, response.text


async def test_the_tracker_is_posted_once_then_edited_in_place(
    slack_with_catalog: SlackWorld,
) -> None:
    world = slack_with_catalog
    fake = world.fake
    await post_alert(world, alert("PostgresDown", "postgres-primary", 0))
    await post_alert(world, alert("HighErrorRate", "payments-api", 30))
    [root] = await fake.wait_for("chat.postMessage", 1)
    root_ts = "1700000000.000001"
    assert "postgres-primary" in root.params["text"]

    command = slash_command(
        "blast-radius --incident INC-1", trigger="t-blast", response_url=fake.response_url()
    )
    assert (await world.send(command)).status_code == 200
    await fake.wait_until(lambda: len(tracker_posts(world)) == 1)
    [tracker] = tracker_posts(world)
    assert tracker.params["thread_ts"] == root_ts and tracker.params["channel"] == "C0INCIDENTS"
    text = shown(tracker)
    assert "payments-api" in text and "🔴 failing" in text
    assert "payments-api failed, 30 s after postgres-primary" in text
    assert "reports failed" not in text
    answers = [
        call
        for call in fake.calls_to("chat.postMessage")
        if "Live tracker in INC-1" in json.dumps(call.params, ensure_ascii=False)
    ]
    assert len(answers) == 1 and answers[0].params["thread_ts"] == root_ts  # the short answer
    assert fake.calls_to("files.completeUploadExternal")  # with its picture

    def tracker_edits() -> list[Call]:
        return [
            call
            for call in fake.calls_to("chat.update")
            if "Blast radius of postgres-primary* (INC-1)" in shown(call)
        ]

    # A dependent fails: its alert joins INC-1, and the tracker is edited in place.
    await post_alert(world, alert("SlowReports", "reports", 60, severity="error"))
    await fake.wait_until(lambda: any("reports failed" in shown(c) for c in tracker_edits()))
    edit = next(c for c in tracker_edits() if "reports failed" in shown(c))
    assert "reports failed, 60 s after postgres-primary" in shown(edit)
    assert "(2 failing)" in shown(edit)
    tracker_ts = edit.params["ts"]
    assert tracker_ts not in (None, root_ts)
    assert len(tracker_posts(world)) == 1  # never re-posted

    # The incident resolves: the final version, then silence.
    resolve = slash_command("resolve INC-1", trigger="t-resolve", response_url=fake.response_url())
    assert (await world.send(resolve)).status_code == 200
    await fake.wait_until(lambda: any("— final" in shown(c) for c in tracker_edits()))
    final = next(c for c in tracker_edits() if "— final" in shown(c))
    assert final.params["ts"] == tracker_ts
    assert "Incident resolved — no longer tracking." in shown(final)
    await world.server.lookout.notifier.flush()  # waits out the pass that sent it
    async with world.server.lookout.database.unit_of_work() as uow:
        [row] = await uow.trackers.for_incident(incident_id=1)
        message = await uow.messages.get(kind=BLAST_MESSAGE, key=str(row.id), platform="slack")
    assert message is not None and message.message_id == tracker_ts  # the one it posted
    assert message.rendered_revision == row.revision == 3  # posted, one change, final
    assert not row.live and len(tracker_posts(world)) == 1
