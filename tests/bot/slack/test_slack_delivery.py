"""Slack's errors as they really come back, through the real Bolt stack and Lookout's
notifier against the fake Web API: deleted cards, every documented permanent error,
channels Lookout cannot post in, answers that cannot land where asked, rate limits."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest

from bot.slack import errors
from tests.bot.slack.conftest import CONFIG, SlackWorld, slack_world, slash_command
from tests.bot.slack.fake_slack import Call, Failure
from tests.bot.slack.test_slack_inputs import incident, mention, send_event, settle
from tests.bot.test_webhook import storm_payload
from tests.conftest import FIXTURES


async def alerts(world: SlackWorld, body: dict[str, Any], *, flush: bool = True) -> None:
    async with world.client() as client:
        response = await client.post("/webhooks/alertmanager", json=body)
        assert response.status_code == 200, response.text
    if flush:
        await world.server.lookout.notifier.flush()


def cards(world: SlackWorld) -> list[Call]:
    """Incident cards posted (they carry Lookout's metadata); not answers or notices."""
    return [c for c in world.fake.calls_to("chat.postMessage") if "metadata" in c.params]


def notices(world: SlackWorld) -> list[Call]:
    return [
        c
        for c in world.fake.calls_to("chat.postMessage")
        if "Lookout cannot post" in str(c.params.get("text"))
    ]


async def row_of(world: SlackWorld, incident_id: int) -> Any:
    async with world.server.lookout.database.unit_of_work() as uow:
        return await uow.threads.get(incident_id=incident_id, platform="slack")


async def backdate(world: SlackWorld, incident_id: int) -> None:
    """Make any backoff of the incident's row over, as if minutes had passed."""
    async with world.server.lookout.database.unit_of_work() as uow:
        row = await uow.threads.get(incident_id=incident_id, platform="slack")
        assert row is not None
        row.updated_at = row.updated_at.replace(year=2000)


# 8. Permanent errors and repairs ----------------------------------------------------------


async def test_a_deleted_card_is_posted_again_and_its_thread_follows(slack: SlackWorld) -> None:
    await alerts(slack, storm_payload(1, "checkout"))
    [first] = cards(slack)
    old_ts = (await row_of(slack, 1)).message_id
    slack.fake.delete("C0INCIDENTS", old_ts)  # someone deletes the card
    await alerts(slack, storm_payload(2, "checkout"))  # the incident changes
    [update] = slack.fake.calls_to("chat.update")
    assert update.params["ts"] == old_ts  # Slack answered message_not_found …
    assert len(cards(slack)) == 2  # … and the card was posted again, at once
    row = await row_of(slack, 1)
    assert row.message_id not in (None, old_ts) and row.thread_id == row.message_id
    assert row.gave_up_revision is None and row.last_error is None
    async with slack.server.lookout.database.unit_of_work() as uow:
        events = await uow.incidents.events(incident_id=1)
    assert any(e.kind == "message_gone" and "message_not_found" in e.text for e in events)
    # Later changes edit the new card; answers go to its thread.
    await alerts(slack, storm_payload(3, "checkout"))
    assert slack.fake.calls_to("chat.update")[-1].params["ts"] == row.message_id
    await slack.send(
        slash_command("show INC-1", trigger="t-after", response_url=slack.fake.response_url())
    )
    await slack.fake.wait_until(
        lambda: any(
            c.params.get("thread_ts") == row.message_id
            for c in slack.fake.calls_to("chat.postMessage")
        )
    )
    assert first.params["channel"] == "#incidents"


# Every documented error, by the kind Lookout treats it as (bot/slack/errors.py).
KINDS: dict[str, frozenset[str]] = {
    "refused": errors.REFUSED_CONTENT,
    "channel": errors.CHANNEL_GONE,
    "permanent": errors.PERMANENT,
    "transient": errors.TRANSIENT - {"ratelimited", "rate_limited"},
}


async def test_each_documented_slack_error_is_handled_by_its_kind(slack: SlackWorld) -> None:
    """One incident per error code, its first post answered with that code:
    refused → a compact card at once; channel and permanent → no retry until the incident
    changes, admins told once; transient → retried after a backoff."""
    table = [(kind, code) for kind, codes in KINDS.items() for code in sorted(codes)]
    for number, (kind, code) in enumerate(table, start=1):
        slack.fake.fail("chat.postMessage", Failure(error=code))
        notices_before = len(notices(slack))
        await alerts(slack, storm_payload(1, f"svc-{number}"))
        row = await row_of(slack, number)
        assert row is not None, code
        if kind == "refused":
            assert row.message_id is not None and code in (row.degraded or ""), code
            continue
        assert row.message_id is None and code in (row.last_error or ""), code
        await backdate(slack, number)
        await slack.server.lookout.notifier.flush()
        row = await row_of(slack, number)
        if kind == "transient":
            assert row.gave_up_revision is None and row.message_id is not None, code
            assert len(notices(slack)) == notices_before, code
        else:
            assert row.gave_up_revision is not None and row.message_id is None, code
            assert row.attempts == 1, code  # asked once, not again
            assert len(notices(slack)) == notices_before + 1, code
            notice = notices(slack)[-1]
            assert code in notice.params["text"] and "INC-" in notice.params["text"], code


async def test_a_channel_lookout_cannot_use_is_told_to_admins_once(tmp_path: Path) -> None:
    config = CONFIG.replace(
        'default_channel: "#incidents"', 'default_channel: "#incidents"\n  admin_channel: "#ops"'
    )
    async with slack_world(tmp_path, config) as world:
        world.fake.refusing["#payments"] = "is_archived"
        await alerts(world, storm_payload(1, "payments"))
        for count in (2, 3):  # the incident changes: one more try each time, no more notices
            await backdate(world, 1)
            await alerts(world, storm_payload(count, "payments"))
        [notice] = notices(world)
        assert notice.params["channel"] == "#ops"
        assert "`is_archived`" in notice.params["text"] and "unarchive" in notice.params["text"]
        assert len(world.fake.calls_to("chat.postMessage")) == 4  # three tries, one notice
        # Unarchived: the card goes out, and the problem is forgotten …
        del world.fake.refusing["#payments"]
        await backdate(world, 1)
        await alerts(world, storm_payload(4, "payments"))
        row = await row_of(world, 1)
        assert row.message_id is not None
        # … so when it comes back, admins hear of it again.
        world.fake.refusing["C0PAYMENTS"] = "is_archived"
        await alerts(world, storm_payload(5, "payments"))
        assert len(notices(world)) == 2


async def test_an_answer_that_cannot_land_where_asked_reaches_the_person(
    slack: SlackWorld,
) -> None:
    await alerts(slack, storm_payload(1, "checkout"))
    # A channel Lookout is not in: the command's response_url still works.
    slack.fake.refusing["C0PRIVATE"] = "not_in_channel"
    await slack.send(
        slash_command(
            "incidents",
            channel="C0PRIVATE",
            trigger="t-private",
            response_url=slack.fake.response_url("private"),
        )
    )
    [hook] = await slack.fake.wait_for("response_url")
    assert hook.params["response_type"] == "ephemeral"
    shown = json.dumps(hook.params["blocks"])
    assert "INC-1" in shown and "not_in_channel" in shown and "/invite @Lookout" in shown
    # A mention in the thread of a card someone deleted: only the asker sees the answer.
    root = (await row_of(slack, 1)).message_id
    slack.fake.delete("C0INCIDENTS", root)
    await send_event(slack, mention("<@UBOT> show", event_id="Ev21", ts="17000021.1"))
    [private] = await slack.fake.wait_for("chat.postEphemeral")
    assert private.params["user"] == "W111" and "thread_not_found" in private.params["text"]


def channel_event(kind: str, channel: str, *, event_id: str, user: str) -> bytes:
    """A channel event as Slack sends it: Bolt's recorded event_callback envelope around the
    event as api.slack.com/events/<kind> documents it (`user`: who joined, or unarchived)."""
    body: dict[str, Any] = json.loads(
        (FIXTURES / "slack" / "bolt_app_mention_event_callback.json").read_text()
    )
    stamp = f"{time.time():.6f}"
    events: dict[str, dict[str, Any]] = {
        "member_joined_channel": {
            "user": user,
            "channel": channel,
            "channel_type": "C",
            "team": "T111",
            "inviter": "W111",
        },
        "channel_unarchive": {"channel": channel, "user": user},
        "group_unarchive": {"channel": channel, "actor_id": user},
    }
    body["event"] = {"type": kind, **events[kind], "event_ts": stamp}
    body["event_id"] = event_id
    return json.dumps(body).encode()


# Why a channel refused the card → what Slack sends when that is over.
CHANNEL_BACK = [
    ("not_in_channel", "member_joined_channel"),  # /invite @Lookout
    ("channel_not_found", "member_joined_channel"),  # a private channel Lookout was not in
    ("is_archived", "channel_unarchive"),
    ("is_archived", "group_unarchive"),  # a private channel
]


@pytest.mark.parametrize(("code", "event"), CHANNEL_BACK)
async def test_a_card_held_back_by_its_channel_goes_out_when_slack_says_it_is_back(
    slack: SlackWorld, code: str, event: str
) -> None:
    slack.fake.refusing["#payments"] = code
    await alerts(slack, storm_payload(1, "payments"))
    row = await row_of(slack, 1)
    assert row.gave_up_revision is not None and row.message_id is None
    revision = (await incident(slack)).revision
    [refused] = cards(slack)
    del slack.fake.refusing["#payments"]  # invited, unarchived: Slack would take it now …
    await backdate(slack, 1)
    await slack.server.lookout.notifier.flush()
    assert cards(slack) == [refused]  # … but nothing tries until Slack says so
    if event == "member_joined_channel":  # someone else joining changes nothing
        await send_event(slack, channel_event(event, "C0PAYMENTS", event_id="Ev1", user="W222"))
        await settle(slack)
        await slack.server.lookout.notifier.flush()
        assert cards(slack) == [refused]
    # Lookout itself joins; a person unarchives.
    user = "UBOT" if event == "member_joined_channel" else "W111"
    await send_event(slack, channel_event(event, "C0PAYMENTS", event_id="Ev2", user=user))
    await slack.fake.wait_until(lambda: len(cards(slack)) == 2, within=4)
    assert cards(slack)[1].params["channel"] == "#payments"
    await slack.server.lookout.notifier.flush()  # waits for the pass that posted it
    assert len(cards(slack)) == 2
    row = await row_of(slack, 1)
    assert row.message_id is not None and row.gave_up_revision is None
    assert (await incident(slack)).revision == revision  # the incident did not change


# 9. Rate limits ----------------------------------------------------------------------------


async def test_a_rate_limited_update_never_holds_up_a_new_incident(slack: SlackWorld) -> None:
    await alerts(slack, storm_payload(1, "checkout"))
    slack.fake.fail("chat.update", Failure(status=429, retry_after=20))
    await alerts(slack, storm_payload(2, "checkout"))  # INC-1's update: 429, wait 20 s
    [limited] = slack.fake.calls_to("chat.update")
    await alerts(slack, storm_payload(1, "payments"))  # a new critical incident
    [_, new_card] = cards(slack)
    assert new_card.params["channel"] == "#payments"
    assert len(slack.fake.calls_to("chat.update")) == 1  # the update still waits, alone
    for _ in range(3):
        await alerts(slack, storm_payload(3, "checkout"))
    assert slack.fake.calls_to("chat.update") == [limited]  # not hammered while it waits
    row = await row_of(slack, 1)
    assert row.attempts == 0 and "rate limited" in (row.last_error or "")


async def test_a_rate_limited_update_goes_out_by_itself_when_the_wait_is_over(
    slack: SlackWorld,
) -> None:
    await alerts(slack, storm_payload(1, "checkout"))
    slack.fake.fail("chat.update", Failure(status=429, retry_after=1))
    await alerts(slack, storm_payload(2, "checkout"))
    first, second = await slack.fake.wait_for("chat.update", 2)
    assert second.at - first.at >= 0.9  # Retry-After honoured, then sent without a nudge
    await asyncio.sleep(0.2)
    row = await row_of(slack, 1)
    assert row.last_error is None and row.rendered_revision >= 2


async def test_an_answer_waits_out_a_short_rate_limit(slack: SlackWorld) -> None:
    await alerts(slack, storm_payload(1, "checkout"))
    slack.fake.fail("chat.postMessage", Failure(status=429, retry_after=1))
    await slack.send(slash_command("show INC-1", trigger="t-wait", response_url="http://x"))
    limited, answered = (await slack.fake.wait_for("chat.postMessage", 3))[1:3]
    assert answered.params.get("thread_ts") and answered.at - limited.at >= 0.9
