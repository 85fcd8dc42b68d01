"""Socket Mode: with SLACK_APP_TOKEN, Lookout connects out and takes commands over a WebSocket."""

from __future__ import annotations

import asyncio
from pathlib import Path

from pydantic import SecretStr

from bot.settings import Settings
from tests.bot.slack.conftest import SIGNING_SECRET
from tests.bot.slack.fake_slack import start_fake_slack
from tests.conftest import free_port, start_server


async def test_a_slash_command_over_socket_mode(tmp_path: Path) -> None:
    fake, fake_server, fake_task = await start_fake_slack()
    settings = Settings(
        data_dir=tmp_path,
        port=free_port(),
        slack_bot_token=SecretStr("xoxb-test"),
        slack_signing_secret=SecretStr(SIGNING_SECRET),
        slack_app_token=SecretStr("xapp-test"),
        slack_api_url=fake.api_url,
    )
    server, task, _running = await start_server(settings)
    try:
        await asyncio.wait_for(fake.socket_connected.wait(), timeout=10)
        assert len(fake.calls_to("apps.connections.open")) == 1
        await fake.envelopes.put(
            {
                "envelope_id": "env-1",
                "type": "slash_commands",
                "accepts_response_payload": True,
                "payload": {
                    "command": "/lookout",
                    "text": "incidents",
                    "user_id": "W111",
                    "user_name": "ann",
                    "channel_id": "C0INCIDENTS",
                    "team_id": "T111",
                    "trigger_id": "socket-trigger-1",
                    "response_url": fake.response_url("socket"),
                },
            }
        )
        [ack] = await fake.wait_for("socket_ack")
        assert ack.params["envelope_id"] == "env-1"
        [answer] = await fake.wait_for("chat.postMessage")
        assert answer.params["channel"] == "C0INCIDENTS"
        assert answer.params["text"] == "No open incidents. 🎉"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=10)
        fake_server.should_exit = True
        await asyncio.wait_for(fake_task, timeout=10)
