"""SlackPlatform against the fake Web API: posting, updating, threads and PNG uploads."""

from __future__ import annotations

import asyncio

import pytest
from slack_sdk.errors import SlackApiError

from bot.platforms import RateLimited
from bot.slack.platform import SlackPlatform, web_client
from skills.contract import Image, Reply, Text
from tests.bot.slack.fake_slack import Failure, start_fake_slack


async def test_post_update_thread_and_image_upload() -> None:
    fake, server, task = await start_fake_slack()
    try:
        platform = SlackPlatform(web_client("xoxb-test", fake.api_url, patient=False))
        posted = await platform.post(channel="#incidents", reply=Reply.text("root"))
        assert (posted.message_id, posted.channel) == ("1700000000.000001", "C0INCIDENTS")
        await platform.update(
            channel="C0INCIDENTS", message_id=posted.message_id, reply=Reply.text("v2")
        )
        picture = Reply(
            blocks=[Text("blast radius"), Image(b"\x89PNG\r\n\x1a\n" + b"0" * 100, "graph")]
        )
        await platform.post_in_thread(
            channel="C0INCIDENTS", thread_id=posted.thread_id, reply=picture
        )
        methods = [call.method for call in fake.calls]
        assert methods[:3] == ["chat.postMessage", "chat.update", "chat.postMessage"]
        assert "files.getUploadURLExternal" in methods and "upload" in methods
        [complete] = fake.calls_to("files.completeUploadExternal")
        assert complete.params["thread_ts"] == posted.thread_id
        assert complete.params["channel_id"] == "C0INCIDENTS"
        # An answer (wait=True) retries a 500 and waits out a 429, then is done …
        fake.fail("chat.update", Failure(status=500), Failure(status=429, retry_after=1))
        await platform.update(
            channel="C0INCIDENTS", message_id=posted.message_id, reply=Reply.text("v3"), wait=True
        )
        assert len(fake.calls_to("chat.update")) == 4
        # … the notifier's call (wait=False) never sleeps: a 429 comes back at once and
        # blocks that channel and method, not the others.
        fake.fail("chat.update", Failure(status=429, retry_after=30))
        with pytest.raises(RateLimited) as limited:
            await platform.update(
                channel="C0INCIDENTS", message_id=posted.message_id, reply=Reply.text("v4")
            )
        assert limited.value.retry_after == 30
        with pytest.raises(RateLimited):
            await platform.update(
                channel="C0INCIDENTS", message_id=posted.message_id, reply=Reply.text("v5")
            )
        assert len(fake.calls_to("chat.update")) == 5  # the second was not even sent
        with pytest.raises(RateLimited):  # the same channel, by the name it was posted to
            await platform.update(
                channel="#incidents", message_id=posted.message_id, reply=Reply.text("v6")
            )
        assert len(fake.calls_to("chat.update")) == 5
        await platform.post_in_thread(
            channel="C0INCIDENTS", thread_id=posted.thread_id, reply=Reply.text("still fine")
        )
        fake.fail("chat.postMessage", Failure(status=500))
        with pytest.raises(SlackApiError):
            await platform.post(channel="#incidents", reply=Reply.text("later"))
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=10)
