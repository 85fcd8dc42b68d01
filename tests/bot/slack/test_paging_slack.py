"""Pages through the real Slack client against the fake Slack Web API: a person is reached
by direct message (conversations.open, then chat.postMessage to the D… conversation) and
@mentioned in the incident's thread; channel targets are posts; a direct message Slack
refuses for good (the app lacks a scope) hands over to the next level at once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.slack.platform import SlackPlatform, web_client
from skills.contract import Reply
from storage.database import Database
from tests.bot.background.paging_harness import Paging, paging
from tests.bot.slack.fake_slack import Call, Failure, FakeSlack, start_fake_slack
from tests.conftest import database_url_for

PERSON_THEN_CHANNEL = """
escalation:
  policies:
    - name: default
      levels:
        - {after: 0s, notify: ["user:dana", "channel:#payments"]}
        - {after: 10m, notify: ["slack:#ops"]}
notify:
  people: {dana: {name: Dana, slack: U0DANA1}}
"""


@dataclass
class SlackPaging:
    fake: FakeSlack
    slack: SlackPlatform
    lookout: Paging

    def posts(self, channel: str) -> list[Call]:
        return [c for c in self.fake.calls_to("chat.postMessage") if c.params["channel"] == channel]


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[SlackPaging]:
    fake, server, task = await start_fake_slack()
    database = Database(database_url_for(tmp_path))
    await database.upgrade()
    slack = SlackPlatform(web_client("xoxb-test-token", fake.api_url, patient=False))
    lookout = await paging(database, PERSON_THEN_CHANNEL, platform=slack)
    try:
        yield SlackPaging(fake, slack, lookout)
    finally:
        await lookout.close()
        await database.dispose()
        server.should_exit = True
        await asyncio.wait_for(task, timeout=10)


async def open_incident_with_its_card(world: SlackPaging) -> str:
    """An alert opens INC-1, and its message is in #incidents (as the notifier posts it);
    the message's ts."""
    await world.lookout.fire("Down", "api")
    posted = await world.slack.post(
        channel="#incidents", reply=Reply.text("🔴 INC-1 · api: Down (critical)")
    )
    assert posted.channel == "C0INCIDENTS"
    async with world.lookout.database.unit_of_work() as uow:
        row = await uow.threads.claim(
            incident_id=1, platform="slack", channel="C0INCIDENTS", now=world.lookout.clock.now
        )
        assert row is not None
        row.message_id, row.thread_id = posted.message_id, posted.thread_id
    return posted.message_id


async def test_a_person_is_paged_by_direct_message_and_mentioned_and_channels_get_posts(
    world: SlackPaging,
) -> None:
    card = await open_incident_with_its_card(world)
    await world.lookout.step(seconds=1)
    (opened,) = world.fake.calls_to("conversations.open")
    assert opened.params["users"] == "U0DANA1"
    # The direct message goes to the conversation Slack opened, not to the user id.
    (direct,) = world.posts("DU0DANA1")
    assert "Escalation level 1 of 2 (policy default)" in direct.params["text"]
    (actions,) = [b for b in direct.params["blocks"] if b["type"] == "actions"]
    assert any("ack INC-1" in element["value"] for element in actions["elements"])
    # The incident's thread sees who is paged.
    (mention,) = [c for c in world.posts("C0INCIDENTS") if c.params.get("thread_ts") == card]
    assert mention.params["text"].startswith("<@U0DANA1> 📟 Paging for INC-1 (default, level 1)")
    # `channel:#payments` is a post in that channel, not in a thread.
    (post,) = world.posts("#payments")
    assert "thread_ts" not in post.params
    assert "Escalation level 1 of 2" in post.params["text"]
    pages = {p.recipient: p for p in await world.lookout.pages(level=1)}
    assert set(pages) == {"dm:slack:U0DANA1", "post:slack:#payments"}
    assert all(p.status == "sent" for p in pages.values())
    assert pages["dm:slack:U0DANA1"].result["channel"] == "DU0DANA1"
    assert pages["dm:slack:U0DANA1"].result["mentioned"] is True
    assert pages["post:slack:#payments"].result["channel"] == "C0PAYMENTS"
    timeline = await world.lookout.timeline()
    assert "Page to Dana (level 1): sent via Slack direct message" in timeline
    assert "Page to channel:#payments (level 1): sent via Slack post in #payments" in timeline
    # Level 2, `slack:#ops`, ten minutes on.
    await world.lookout.step(minutes=10)
    (ops,) = world.posts("#ops")
    assert "Escalation level 2 of 2" in ops.params["text"]
    assert len(world.fake.calls_to("conversations.open")) == 1


async def test_a_direct_message_slack_refuses_for_good_notifies_the_next_level_at_once(
    world: SlackPaging,
) -> None:
    await open_incident_with_its_card(world)
    world.fake.fail("conversations.open", Failure(error="missing_scope"))
    await world.lookout.step(seconds=1)
    (page,) = await world.lookout.pages(recipient="dm:slack:U0DANA1")
    assert (page.status, page.attempts) == ("failed", 1)  # never retried: a scope is missing
    assert page.last_error is not None and "missing_scope" in page.last_error
    assert world.posts("DU0DANA1") == []
    # Level 2 is not left to wait its ten minutes.
    (ops,) = world.posts("#ops")
    assert "Escalation level 2 of 2" in ops.params["text"]
    timeline = "\n".join(await world.lookout.timeline())
    assert "Page to Dana (level 1) via Slack direct message failed (attempt 1)" in timeline
    assert "missing_scope — given up; notifying the next level now" in timeline
