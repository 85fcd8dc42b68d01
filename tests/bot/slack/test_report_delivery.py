"""A scheduled report reaches Slack through the notifier, once, with its chart uploaded into
the message's thread, and goes to the channel the schedule names per platform."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from bot.background.notifier import Notifier
from bot.console.platform import ConsoleHub, ConsolePlatform
from bot.metrics import Metrics
from bot.slack.platform import SlackPlatform, web_client
from skills.contract import Image, Reply, Text
from skills.reply_codec import encode
from storage.database import Database
from tests.bot.slack.fake_slack import start_fake_slack
from tests.conftest import database_url_for


async def test_a_report_is_posted_once_per_platform(tmp_path: Path) -> None:
    database = Database(database_url_for(tmp_path))
    await database.upgrade()
    fake, server, task = await start_fake_slack()
    try:
        slack = SlackPlatform(web_client("xoxb-test", fake.api_url))
        console = ConsolePlatform(database, ConsoleHub())
        notifier = Notifier(
            database,
            [console, slack],
            channel_for=lambda _p, _s, _project: "#incidents",
            metrics=Metrics(),
        )
        report = Reply(
            blocks=[Text("**SLO report**"), Image(b"\x89PNG\r\n\x1a\n" + b"0" * 64, "budget")],
            visibility="channel",
        )
        now = datetime.now(UTC)
        async with database.unit_of_work() as uow:
            row = await uow.schedules.claim(
                job="report:slo",
                scheduled_for=now,
                now=now,
                channel="#incidents",
                channels={"console": "#sre"},
            )
            assert row is not None
            await uow.schedules.finish(run_id=row.id, outcome="ok", now=now, reply=encode(report))
        assert await notifier.flush() == 2
        assert await notifier.flush() == 0  # posted: nothing behind any more
        [post] = fake.calls_to("chat.postMessage")
        assert post.params["channel"] == "#incidents" and "SLO report" in post.params["text"]
        [complete] = fake.calls_to("files.completeUploadExternal")
        assert complete.params["thread_ts"] == "1700000000.000001"
        async with database.unit_of_work() as uow:
            assert [m.channel for m in await uow.console.in_channel(channel="#sre")] == ["#sre"]
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=10)
        await database.dispose()
