"""Slack's errors as they really come back, through the real Bolt stack and Lookout's
notifier against the fake Web API: deleted cards, every documented error on a first post
and on an update, channels Lookout cannot post in and their coming back, answers that
cannot land where asked, rate limits."""

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


# Slack's documented error codes for the calls the notifier makes (the method pages of
# chat.postMessage and chat.update, and the errors every method shares), each written out
# under what Lookout does about it. A code missing from bot/slack/errors.py is retried a
# few times as if transient, and fails its row here.
REFUSED_CONTENT = (  # the message refused: a compact one goes out at once
    "invalid_blocks",
    "invalid_blocks_format",
    "block_mismatch",
    "msg_too_long",
    "msg_blocks_too_long",
    "no_text",
    "too_many_attachments",
    "invalid_attachments",
    "invalid_metadata_format",
    "invalid_metadata_schema",
    "metadata_too_large",
    "metadata_must_be_sent_from_app",
    "slack_connect_file_link_sharing_blocked",
)
MESSAGE_GONE = (  # chat.update: the card is gone or no longer editable: posted anew
    "message_not_found",
    "cant_update_message",
    "edit_window_closed",
)
# chat.postMessage in a thread whose root is gone (the answers' table below).
THREAD_GONE = ("thread_not_found", "invalid_thread_ts")
CHANNEL_GONE = (  # the channel takes nothing until someone changes it: admins told once
    "channel_not_found",
    "not_in_channel",
    "is_archived",
    "is_inactive",
    "restricted_action",
    "restricted_action_read_only_channel",
    "restricted_action_thread_only_channel",
    "restricted_action_non_threadable_channel",
)
PERMANENT = (  # the token, the app or the call: never retried as is, admins told once
    "invalid_auth",
    "not_authed",
    "account_inactive",
    "token_revoked",
    "token_expired",
    "no_permission",
    "missing_scope",
    "not_allowed_token_type",
    "access_denied",
    "accesslimited",
    "ekm_access_denied",
    "enterprise_is_restricted",
    "team_access_not_granted",
    "org_login_required",
    "two_factor_setup_required",
    "as_user_not_supported",
    "markdown_text_conflict",
    "cannot_reply_to_message",
    "invalid_arguments",
    "invalid_arg_name",
    "invalid_array_arg",
    "invalid_charset",
    "invalid_form_data",
    "invalid_post_type",
    "missing_post_type",
    "method_deprecated",
    "deprecated_endpoint",
)
TRANSIENT = (  # Slack's own trouble: retried after a backoff
    "internal_error",
    "fatal_error",
    "service_unavailable",
    "request_timeout",
    "team_added_to_org",
    "update_failed",
    "external_channel_migrating",
    "ratelimited",  # in a 200 answer, without Retry-After
    "rate_limited",
)
KINDS: dict[str, tuple[str, ...]] = {
    "refused": REFUSED_CONTENT,
    "channel": CHANNEL_GONE,
    "permanent": PERMANENT,
    "transient": TRANSIENT,
}


def test_the_tables_are_the_codes_lookout_knows() -> None:
    """Every code bot/slack/errors.py sorts is in a table here, under the same kind."""
    assert set(REFUSED_CONTENT) == errors.REFUSED_CONTENT
    assert set(MESSAGE_GONE + THREAD_GONE) == errors.MESSAGE_GONE
    assert set(CHANNEL_GONE) == errors.CHANNEL_GONE
    assert set(PERMANENT) == errors.PERMANENT
    assert set(TRANSIENT) == errors.TRANSIENT


async def test_each_documented_slack_error_on_a_first_post_is_handled_by_its_kind(
    slack: SlackWorld,
) -> None:
    """One incident per error code, its first post answered with that code:
    refused → a compact card at once; channel and permanent → no retry until the incident
    changes, admins told once; transient → retried after a backoff."""
    table = [(kind, code) for kind, codes in KINDS.items() for code in codes]
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


async def test_each_documented_slack_error_on_an_update_is_handled_by_its_kind(
    slack: SlackWorld,
) -> None:
    """One incident per error code, its card posted, then the update after a change
    answered with that code: gone → the card posted anew at once; refused → a compact
    update at once; channel and permanent → the card stays as it was, no retry until the
    incident changes again, admins told once; transient → retried after a backoff."""
    table = [("gone", code) for code in MESSAGE_GONE]
    table += [(kind, code) for kind, codes in KINDS.items() for code in codes]
    for number, (kind, code) in enumerate(table, start=1):
        service = f"svc-{number}"
        await alerts(slack, storm_payload(1, service))
        card = (await row_of(slack, number)).message_id
        assert card is not None, code
        posted = len(cards(slack))
        updates = len(slack.fake.calls_to("chat.update"))
        notices_before = len(notices(slack))
        slack.fake.fail("chat.update", Failure(error=code))
        await alerts(slack, storm_payload(2, service))  # the incident changes
        assert len(slack.fake.calls_to("chat.update")) > updates, code
        row = await row_of(slack, number)
        if kind == "gone":
            assert len(cards(slack)) == posted + 1, code  # posted again, at once
            assert row.message_id not in (None, card) and row.gave_up_revision is None, code
            assert len(notices(slack)) == notices_before, code
            continue
        assert len(cards(slack)) == posted, code  # never a second card
        if kind == "refused":
            assert code in (row.degraded or "") and not row.last_error, code
            assert len(slack.fake.calls_to("chat.update")) == updates + 2, code  # compact
            continue
        assert row.message_id == card and code in (row.last_error or ""), code
        await backdate(slack, number)
        await slack.server.lookout.notifier.flush()
        row = await row_of(slack, number)
        if kind == "transient":
            assert row.last_error is None and row.gave_up_revision is None, code
            assert len(slack.fake.calls_to("chat.update")) == updates + 2, code
            assert len(notices(slack)) == notices_before, code
        else:
            assert row.gave_up_revision is not None and row.attempts == 1, code
            assert len(slack.fake.calls_to("chat.update")) == updates + 1, code
            assert len(notices(slack)) == notices_before + 1, code
            assert code in notices(slack)[-1].params["text"], code


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


@pytest.mark.parametrize("code", THREAD_GONE)
async def test_an_answer_whose_thread_slack_cannot_find_reaches_the_person(
    slack: SlackWorld, code: str
) -> None:
    await alerts(slack, storm_payload(1, "checkout"))
    slack.fake.fail("chat.postMessage", Failure(error=code))  # the answer in the card's thread
    await send_event(slack, mention("<@UBOT> show", event_id="Ev31", ts="17000031.1"))
    [private] = await slack.fake.wait_for("chat.postEphemeral")
    assert private.params["user"] == "W111" and code in private.params["text"]
    assert "INC-1" in json.dumps(private.params["blocks"])


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
    assert limited.params["channel"] == "C0INCIDENTS"
    # A new critical incident in the same channel: chat.update waits there, not the post.
    await alerts(slack, storm_payload(1, "inventory"))
    [first, new_card] = cards(slack)
    assert new_card.params["channel"] == first.params["channel"] == "#incidents"
    assert (await row_of(slack, 2)).message_id is not None
    await alerts(slack, storm_payload(1, "payments"))  # and in another channel
    assert cards(slack)[-1].params["channel"] == "#payments"
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
