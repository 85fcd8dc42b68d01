"""Incident messages stay true on Slack (real Bolt stack, fake Slack Web API): alert text is
data, messages fit, a refused message is replaced by a compact one, Alertmanager's dropped
alerts are named, and a post made before a crash is found again instead of repeated."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

from storage.models import ChatThreadRow
from tests.bot.slack.conftest import SlackWorld
from tests.bot.slack.fake_slack import Failure

ZWSP = "\u200b"


def payload(
    *,
    alertname: str = "HighErrorRate",
    summary: str = "5xx above 5%",
    truncated: int = 0,
    service: str = "checkout",
) -> dict[str, Any]:
    return {
        "version": "4",
        "groupKey": f'{{}}:{{service="{service}"}}',
        "truncatedAlerts": truncated,
        "status": "firing",
        "receiver": "lookout",
        "alerts": [
            {
                "status": "firing",
                "labels": {"alertname": alertname, "service": service, "severity": "critical"},
                "annotations": {"summary": summary},
                "startsAt": datetime.now(UTC).isoformat(),
            }
        ],
    }


async def post_alerts(slack: SlackWorld, body: dict[str, Any]) -> None:
    async with slack.client() as client:
        response = await client.post("/webhooks/alertmanager", json=body)
    assert response.status_code == 200, response.text


async def recorded(slack: SlackWorld, incident_id: int = 1) -> ChatThreadRow:
    """The incident's Slack row once the notifier has recorded its post."""
    for _ in range(200):
        async with slack.server.lookout.database.unit_of_work() as uow:
            row = await uow.threads.get(incident_id=incident_id, platform="slack")
        if row is not None and row.message_id is not None:
            return row
        await asyncio.sleep(0.05)
    raise AssertionError("the post was never recorded")


def texts(blocks: list[dict[str, Any]]) -> list[str]:
    found = []
    for block in blocks:
        if "text" in block:
            found.append(block["text"]["text"])
        for field in block.get("fields", []):
            found.append(field["text"])
        for element in block.get("elements", []):
            if element.get("type") == "mrkdwn":
                found.append(element["text"])
    return found


async def test_alert_text_is_data_and_the_card_fits(slack: SlackWorld) -> None:
    """A 127,000-character annotation became 43 sections; `*`, `_`, `~` and backticks in a
    label value turned the bold headline into something else."""
    await post_alerts(slack, payload(alertname="Disk_*usage*_~high~_`now`", summary="x" * 127_000))
    [post] = await slack.fake.wait_for("chat.postMessage")
    blocks = post.params["blocks"]
    shown = texts(blocks)
    assert len(blocks) <= 12 and sum(len(text) for text in shown) < 3000
    assert any("Summary truncated — `show INC-1` for everything" in text for text in shown)
    headline = shown[0]
    assert headline.startswith("🔴 *INC-1 · checkout: Disk") and headline.endswith("*")
    # Every formatting character of the label value is made part of a word, the backticks
    # look-alikes: Slack formats none of them.
    for char in "*_~":
        assert f"{char}usage" not in headline.replace(f"{ZWSP}{char}", "")
    assert "`" not in headline and "ˋnowˋ" in headline


async def test_show_points_at_the_whole_annotation(slack: SlackWorld) -> None:
    await post_alerts(slack, payload(summary="y" * 127_000))
    await slack.fake.wait_for("chat.postMessage")
    async with slack.server.lookout.database.unit_of_work() as uow:
        [alert] = await uow.alerts.for_incident(incident_id=1)
    result = await slack.server.lookout.dispatcher.run(
        "show INC-1", actor=_actor(), conversation=_conversation()
    )
    notes = result.plain_text
    assert "127,000 characters" in notes and f"--alert {alert.fingerprint[:12]}" in notes
    whole = await slack.server.lookout.dispatcher.run(
        f"show INC-1 --alert {alert.fingerprint[:12]}",
        actor=_actor(),
        conversation=_conversation(),
    )
    assert whole.plain_text.count("y") > 10_000


async def test_a_refused_card_is_replaced_by_a_compact_one_and_not_retried_forever(
    slack: SlackWorld,
) -> None:
    slack.fake.fail("chat.postMessage", Failure(error="msg_too_long"))
    await post_alerts(slack, payload())
    posts = await slack.fake.wait_for("chat.postMessage", 2)
    compact = texts(posts[1].params["blocks"])
    assert any("The full message could not be shown" in text for text in compact)
    assert any("msg_too_long" in text for text in compact)
    row = await recorded(slack)
    assert row.degraded is not None and "msg_too_long" in row.degraded
    # Later changes keep to the compact form; nothing is asked twice.
    slack.fake.fail("chat.update", Failure(error="channel_not_found"))
    await post_alerts(slack, payload(alertname="HighLatency"))
    await slack.fake.wait_for("chat.update")
    for _ in range(3):
        await slack.server.lookout.notifier.flush()
    assert len(slack.fake.calls_to("chat.update")) == 1


async def test_dropped_alerts_are_named_on_the_card(slack: SlackWorld) -> None:
    await post_alerts(slack, payload(truncated=37))
    [post] = await slack.fake.wait_for("chat.postMessage")
    assert any("left up to 37 alerts out" in text for text in texts(post.params["blocks"]))
    async with slack.client() as client:
        [incident] = (await client.get("/console/api/incidents")).json()
    assert incident["truncated_alerts"] == 37


async def test_a_post_made_before_a_crash_is_adopted_not_repeated(slack: SlackWorld) -> None:
    """The process died after Slack took the post and before Lookout recorded it: the row
    has no message id. The next pass finds the post by the token in its metadata."""
    notifier = slack.server.lookout.notifier
    await post_alerts(slack, payload())
    [post] = await slack.fake.wait_for("chat.postMessage")
    first = await recorded(slack)
    token = post.params["metadata"]["event_payload"]["intent"]
    assert token == f"lookout:slack:incident:{first.id}"
    async with slack.server.lookout.database.unit_of_work() as uow:
        row = await uow.threads.get(incident_id=1, platform="slack")
        assert row is not None
        # What a crash right after the post leaves behind:
        row.message_id = None
        row.thread_id = None
        row.rendered_revision = 0
        row.updated_at = row.updated_at.replace(year=2000)
    await notifier.flush()
    assert len(slack.fake.calls_to("chat.postMessage")) == 1
    assert len(slack.fake.calls_to("conversations.history")) == 1
    async with slack.server.lookout.database.unit_of_work() as uow:
        adopted = await uow.threads.get(incident_id=1, platform="slack")
    assert adopted is not None and adopted.message_id == first.message_id
    # The adopted post is brought up to date in place.
    assert slack.fake.calls_to("chat.update")


async def test_the_incidents_api_gives_what_the_card_shows(slack: SlackWorld) -> None:
    await post_alerts(slack, payload())
    body = payload(alertname="SlowQueries", service="checkout")
    await post_alerts(slack, body)
    async with slack.client() as client:
        [incident] = (await client.get("/console/api/incidents")).json()
    assert (incident["alerts"], incident["firing"], incident["services"]) == (2, 2, ["checkout"])
    assert set(incident) >= {"root_cause", "episode", "opened_at", "truncated_alerts"}
    json.dumps(incident)


def _actor() -> Any:
    from skills.contract import Actor

    return Actor(platform="slack", user_id="U1", display_name="alice")


def _conversation() -> Any:
    from skills.contract import Conversation

    return Conversation(platform="slack", channel="C0INCIDENTS", incident_id=1)
