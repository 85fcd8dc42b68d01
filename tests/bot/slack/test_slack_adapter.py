"""The real Bolt stack over HTTP, against a fake Slack Web API, with signed requests."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from slack_sdk.signature import Clock, SignatureVerifier

from skills.contract import Role
from tests.bot.slack.conftest import (
    SlackWorld,
    app_mention,
    block_action,
    signed_headers,
    slash_command,
)
from tests.bot.slack.fake_slack import Failure
from tests.bot.test_webhook import storm_payload
from tests.conftest import FIXTURES


def texts(calls: list[Any]) -> list[str]:
    return [json.dumps(call.params.get("blocks") or call.params.get("text")) for call in calls]


async def ingest(world: SlackWorld, *bodies: dict[str, Any]) -> None:
    async with world.client() as client:
        for body in bodies:
            response = await client.post("/webhooks/alertmanager", json=body)
            assert response.status_code == 200, response.text
    await world.server.lookout.notifier.flush()


def test_the_documented_signature_vector_verifies() -> None:
    vector = json.loads((FIXTURES / "slack" / "signature_test_vector.json").read_text())
    verifier = SignatureVerifier(vector["signing_secret"], clock=_Clock(vector["mock_clock_now"]))
    headers = {
        "x-slack-request-timestamp": vector["timestamp"],
        "x-slack-signature": vector["expected_signature"],
    }
    assert verifier.is_valid_request(vector["body"], headers)
    ours = signed_headers(
        vector["body"].encode(), secret=vector["signing_secret"], timestamp=int(vector["timestamp"])
    )
    assert ours["x-slack-signature"] == vector["expected_signature"]


class _Clock(Clock):
    def __init__(self, now: float) -> None:
        self._now = now

    def now(self) -> float:
        return self._now


async def test_url_verification_answers_the_challenge(slack: SlackWorld) -> None:
    body = (FIXTURES / "slack" / "bolt_url_verification.json").read_bytes()
    response = await slack.send(body, content_type="application/json")
    assert response.status_code == 200
    assert response.json()["challenge"] == json.loads(body)["challenge"]


async def test_forged_stale_or_missing_signatures_get_401_and_run_nothing(
    slack: SlackWorld,
) -> None:
    body = slash_command("incidents", trigger="t-forged", response_url=slack.fake.response_url())
    forged = signed_headers(body, secret="not-the-secret")
    stale = signed_headers(body, timestamp=int(time.time()) - 301)
    async with slack.client() as client:
        responses = [
            await client.post("/slack/events", content=body, headers=forged),
            await client.post("/slack/events", content=body, headers=stale),
            await client.post(
                "/slack/events",
                content=body,
                headers={"content-type": "application/x-www-form-urlencoded"},
            ),
        ]
    assert [r.status_code for r in responses] == [401, 401, 401]
    await asyncio.sleep(0.3)
    assert slack.fake.calls_to("response_url") == []
    assert slack.fake.calls_to("chat.postMessage") == []


async def test_a_storm_makes_one_root_message_per_incident_then_updates(slack: SlackWorld) -> None:
    await ingest(slack, storm_payload(3, "checkout"), storm_payload(2, "payments"))
    posts = slack.fake.calls_to("chat.postMessage")
    assert sorted(call.params["channel"] for call in posts) == ["#incidents", "#payments"]
    for round_ in range(5):
        body = storm_payload(4, "checkout")
        for number, alert in enumerate(body["alerts"]):
            alert["labels"]["alertname"] = f"More{round_}x{number}"
        await ingest(slack, body)
    assert len(slack.fake.calls_to("chat.postMessage")) == 2  # never one post per alert
    updates = slack.fake.calls_to("chat.update")
    assert updates and {call.params["channel"] for call in updates} == {"C0INCIDENTS"}
    assert "23 (23 firing)" in texts(updates)[-1]


async def test_a_button_click_acks_and_updates_the_message(slack: SlackWorld) -> None:
    await ingest(slack, storm_payload(2, "checkout"))
    [root] = slack.fake.calls_to("chat.postMessage")
    buttons = next(b for b in root.params["blocks"] if b["type"] == "actions")["elements"]
    ack = next(b for b in buttons if b["text"]["text"] == "Acknowledge")
    assert json.loads(ack["value"]) == {"command": "ack INC-1"}
    ts = "1700000000.000001"
    body = block_action(
        json.loads(ack["value"])["command"],
        message_ts=ts,
        channel="C0INCIDENTS",
        trigger="t-click",
        response_url=slack.fake.response_url(),
    )
    response = await slack.send(body)
    assert response.status_code == 200
    answer = (await slack.fake.wait_for("chat.postMessage", 2))[1]
    assert answer.params["thread_ts"] == ts and answer.params["channel"] == "C0INCIDENTS"
    assert "INC-1 acknowledged by *w111*" in answer.params["text"]
    assert "INC-1 acknowledged by *w111*" in json.dumps(answer.params["blocks"])
    [update] = await slack.fake.wait_for("chat.update", 1)
    assert update.params["ts"] == ts
    labels = [
        element["text"]["text"]
        for block in update.params["blocks"]
        if block["type"] == "actions"
        for element in block["elements"]
        if element["type"] == "button"
    ]
    assert labels == [
        "Unacknowledge",
        "Assign to me",
        "Details",
        "Run runbook",
        "Similar",
        "Correlate",
        "Resolve",
    ]  # no Acknowledge button once acknowledged
    assert "Acknowledged by w111" in json.dumps(update.params["blocks"])


async def test_a_viewer_cannot_resolve_and_is_told_so_privately(slack: SlackWorld) -> None:
    await ingest(slack, storm_payload(1, "checkout"))
    async with slack.server.lookout.database.unit_of_work() as uow:
        await uow.users.ensure(
            platform="slack",
            platform_user_id="WVIEW",
            display_name="vic",
            default_role="responder",
            now=_now(),
        )
        await uow.users.set_role(platform="slack", platform_user_id="WVIEW", role=Role.VIEWER.label)
    body = slash_command(
        "resolve INC-1",
        user="WVIEW",
        trigger="t-viewer",
        response_url=slack.fake.response_url("viewer"),
    )
    response = await slack.send(body)
    assert response.status_code == 200 and response.text == ""
    [hook] = await slack.fake.wait_for("response_url")
    assert hook.params["response_type"] == "ephemeral"
    assert hook.params["text"] == (
        "`resolve` needs the responder role and you are a viewer; ask a Lookout admin for access."
    )
    async with slack.server.lookout.database.unit_of_work() as uow:
        incident = await uow.incidents.get(incident_id=1)
        audit = await uow.audit.recent(limit=1)
    assert incident is not None and incident.status == "triggered"
    assert (audit[0].platform, audit[0].user_id, audit[0].outcome) == ("slack", "WVIEW", "denied")


async def test_a_retried_delivery_runs_once(slack: SlackWorld) -> None:
    await ingest(slack, storm_payload(1, "checkout"))
    body = slash_command("ack INC-1", trigger="t-retry", response_url=slack.fake.response_url())
    first = await slack.send(body)
    retry = await slack.send(
        body, headers={"x-slack-retry-num": "1", "x-slack-retry-reason": "http_timeout"}
    )
    assert first.status_code == 200 and retry.status_code == 200
    await slack.fake.wait_for("chat.postMessage", 2)
    await asyncio.sleep(0.5)
    posts = slack.fake.calls_to("chat.postMessage")[1:]
    answers = [call for call in posts if "Answered in" not in str(call.params.get("text"))]
    answers += slack.fake.calls_to("response_url")
    assert len(answers) == 1, answers  # one answer: the retry did not run `ack` again
    assert len(posts) - len(answers) == 1  # and one line where it was asked, linking to it
    async with slack.server.lookout.database.unit_of_work() as uow:
        audit = await uow.audit.recent(action="ack")
    assert len(audit) == 1


async def test_commands_about_an_incident_answer_in_its_thread(slack: SlackWorld) -> None:
    await ingest(slack, storm_payload(2, "payments"))
    [root] = slack.fake.calls_to("chat.postMessage")
    body = slash_command("show INC-1", trigger="t-show", response_url=slack.fake.response_url())
    await slack.send(body)
    calls = await slack.fake.wait_for("chat.postMessage", 2)
    assert calls[1].params["thread_ts"] == "1700000000.000001"
    assert calls[1].params["channel"] == "C0PAYMENTS" and root.params["channel"] == "#payments"
    help_body = slash_command("help", trigger="t-help", response_url=slack.fake.response_url())
    await slack.send(help_body)
    [hook] = await slack.fake.wait_for("response_url")
    assert hook.params["response_type"] == "ephemeral" and "Lookout commands" in hook.params["text"]


async def test_an_app_mention_in_the_incident_thread_answers_there(slack: SlackWorld) -> None:
    await ingest(slack, storm_payload(1, "checkout"))
    body = app_mention(
        "ack", channel="C0INCIDENTS", thread_ts="1700000000.000001", event_id="Ev000001"
    )
    response = await slack.send(body, content_type="application/json")
    assert response.status_code == 200
    calls = await slack.fake.wait_for("chat.postMessage", 2)
    assert calls[1].params["thread_ts"] == "1700000000.000001"
    assert "INC-1 acknowledged" in calls[1].params["text"]
    again = await slack.send(
        body, content_type="application/json", headers={"x-slack-retry-num": "1"}
    )
    assert again.status_code == 200
    await asyncio.sleep(0.4)
    assert len(slack.fake.calls_to("chat.postMessage")) == 2


async def test_rate_limits_are_waited_out_and_no_message_is_lost(slack: SlackWorld) -> None:
    slack.fake.fail("chat.postMessage", Failure(status=429, retry_after=1))
    started = time.monotonic()
    await ingest(slack, storm_payload(1, "checkout"))
    posts = await slack.fake.wait_for("chat.postMessage", 2)
    assert posts[1].at - posts[0].at >= 0.9  # Retry-After honoured
    assert time.monotonic() - started >= 0.9
    for _ in range(100):
        async with slack.server.lookout.database.unit_of_work() as uow:
            row = await uow.threads.get(incident_id=1, platform="slack")
        if row is not None and row.message_id is not None:
            break
        await asyncio.sleep(0.05)
    assert row is not None and row.message_id == "1700000000.000001"


async def test_a_slack_error_on_posting_is_retried_and_never_breaks_ingestion(
    slack: SlackWorld,
) -> None:
    slack.fake.fail("chat.postMessage", Failure(error="internal_error"))
    await ingest(slack, storm_payload(1, "checkout"))  # the webhook still answered 200
    async with slack.server.lookout.database.unit_of_work() as uow:
        row = await uow.threads.get(incident_id=1, platform="slack")
        assert (
            row is not None
            and row.message_id is None
            and "internal_error" in (row.last_error or "")
        )
        row.updated_at = row.updated_at.replace(year=2000)  # make the retry due now
    await slack.server.lookout.notifier.flush()
    assert len(slack.fake.calls_to("chat.postMessage")) == 2
    async with slack.server.lookout.database.unit_of_work() as uow:
        row = await uow.threads.get(incident_id=1, platform="slack")
    assert row is not None and row.message_id is not None and row.last_error is None


async def test_a_permanent_slack_error_waits_for_a_change_instead_of_retrying(
    slack: SlackWorld,
) -> None:
    """`channel_not_found` will not go away by asking again: no retries at that revision;
    the next change of the incident (say, a new alert) gets one more try."""
    slack.fake.fail("chat.postMessage", Failure(error="channel_not_found"))
    await ingest(slack, storm_payload(1, "checkout"))
    async with slack.server.lookout.database.unit_of_work() as uow:
        row = await uow.threads.get(incident_id=1, platform="slack")
        assert row is not None and row.gave_up_revision is not None
        row.updated_at = row.updated_at.replace(year=2000)
    for _ in range(3):
        await slack.server.lookout.notifier.flush()

    def cards() -> list[Any]:  # incident messages, not the admins' notice
        return [c for c in slack.fake.calls_to("chat.postMessage") if "metadata" in c.params]

    assert len(cards()) == 1
    await ingest(slack, storm_payload(2, "checkout"))  # the incident changes
    await slack.fake.wait_until(lambda: len(cards()) == 2)
    async with slack.server.lookout.database.unit_of_work() as uow:
        row = await uow.threads.get(incident_id=1, platform="slack")
    assert row is not None and row.message_id is not None and row.gave_up_revision is None


def _now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)


async def test_a_click_sent_again_as_a_retry_runs_once(slack: SlackWorld) -> None:
    """`X-Slack-Retry-Num` is not signed: a captured click sent again with it passes the
    replay check like Slack's own retries do, and its trigger id runs nothing twice."""
    await ingest(slack, storm_payload(1, "checkout"))
    ts = "1700000000.000001"
    body = block_action(
        "show INC-1",
        message_ts=ts,
        channel="C0INCIDENTS",
        trigger="t-click-again",
        response_url=slack.fake.response_url(),
    )
    first = await slack.send(body)
    again = await slack.send(body, headers={"x-slack-retry-num": "1", "x-slack-retry-reason": "x"})
    assert (first.status_code, again.status_code) == (200, 200)

    def shown() -> int:
        return sum(
            1
            for call in slack.fake.calls_to("chat.postMessage")
            if call.params.get("thread_ts") == ts and "INC-1" in str(call.params.get("text"))
        )

    await slack.fake.wait_until(lambda: shown() >= 1, within=30)
    await asyncio.sleep(1)  # the second request's task has decided by now
    assert shown() == 1
