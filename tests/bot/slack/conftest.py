"""Lookout with Slack enabled, against the fake Slack Web API, with correctly signed requests."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from pydantic import SecretStr

from bot.settings import Settings
from tests.bot.slack.fake_slack import FakeSlack, start_fake_slack
from tests.conftest import FIXTURES, RunningServer, free_port, start_server

SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"


def signed_headers(
    body: bytes,
    *,
    secret: str = SIGNING_SECRET,
    timestamp: int | None = None,
    content_type: str = "application/x-www-form-urlencoded",
) -> dict[str, str]:
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    base = b"v0:" + stamp.encode() + b":" + body
    signature = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {
        "content-type": content_type,
        "x-slack-request-timestamp": stamp,
        "x-slack-signature": signature,
    }


def slash_command(
    text: str, *, user: str = "W111", trigger: str, response_url: str, channel: str = "C0INCIDENTS"
) -> bytes:
    """The recorded slash-command body from Bolt's tests, with our command and text."""
    template = (FIXTURES / "slack" / "bolt_slash_command_form_body.txt").read_text().strip()
    fields = dict(pair.split("=", 1) for pair in template.split("&"))
    from urllib.parse import unquote_plus

    form = {key: unquote_plus(value) for key, value in fields.items()}
    form.update(
        command="/lookout",
        text=text,
        user_id=user,
        user_name=user.lower(),
        trigger_id=trigger,
        response_url=response_url,
        channel_id=channel,
    )
    return urlencode(form).encode()


def block_action(
    command: str,
    *,
    message_ts: str,
    channel: str,
    user: str = "W111",
    trigger: str,
    response_url: str,
    team: str = "T111",
) -> bytes:
    """The recorded block_actions payload, clicking a Lookout button on an incident message
    (`team`: the clicking person's workspace)."""
    payload: dict[str, Any] = json.loads(
        (FIXTURES / "slack" / "bolt_block_actions_payload.json").read_text()
    )
    payload["user"] = {
        "id": user,
        "username": user.lower(),
        "name": user.lower(),
        "team_id": team,
    }
    payload["container"] = {
        "type": "message",
        "message_ts": message_ts,
        "channel_id": channel,
        "is_ephemeral": False,
    }
    payload["channel"] = {"id": channel, "name": "incidents"}
    payload["message"] = {"ts": message_ts, "type": "message", "text": "incident"}
    payload["trigger_id"] = trigger
    payload["response_url"] = response_url
    payload["actions"][0].update(action_id="lookout:0:ack", value=json.dumps({"command": command}))
    return urlencode({"payload": json.dumps(payload)}).encode()


def app_mention(
    text: str, *, channel: str, thread_ts: str | None, event_id: str, user: str = "W111"
) -> bytes:
    body: dict[str, Any] = json.loads(
        (FIXTURES / "slack" / "bolt_app_mention_event_callback.json").read_text()
    )
    body["event_id"] = event_id
    event = body["event"]
    event.update(
        text=f"<@UBOT> {text}", channel=channel, user=user, ts=f"1700000999.{event_id[-6:]:0>6}"
    )
    if thread_ts:
        event["thread_ts"] = thread_ts
    else:
        event.pop("thread_ts", None)
    return json.dumps(body).encode()


@dataclass
class SlackWorld:
    fake: FakeSlack
    server: RunningServer
    config: Path

    def client(self) -> httpx.AsyncClient:
        return self.server.client()

    async def send(
        self,
        body: bytes,
        *,
        content_type: str = "application/x-www-form-urlencoded",
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        async with self.client() as client:
            return await client.post(
                "/slack/events",
                content=body,
                headers={**signed_headers(body, content_type=content_type), **(headers or {})},
            )


async def slack_command_answer(
    world: SlackWorld, text: str, *, user: str, channel: str
) -> dict[str, Any]:
    """Send `/lookout text` as `user` in `channel`, signed; what Lookout posted to the
    command's response_url."""
    name = f"hook-{len(world.fake.calls_to('response_url'))}"
    body = slash_command(
        text,
        user=user,
        channel=channel,
        trigger=f"t-{name}",
        response_url=world.fake.response_url(name),
    )
    response = await world.send(body)
    assert response.status_code == 200, response.text
    await world.fake.wait_until(
        lambda: any(
            call.params.get("_hook") == name for call in world.fake.calls_to("response_url")
        )
    )
    [answer] = [c.params for c in world.fake.calls_to("response_url") if c.params["_hook"] == name]
    return answer


CONFIG = """
routing:
  default_channel: "#incidents"
services:
  - name: payments
    channel: "#payments"
"""


@pytest.fixture
async def slack(tmp_path: Path) -> AsyncIterator[SlackWorld]:
    async with slack_world(tmp_path, CONFIG) as world:
        yield world


@asynccontextmanager
async def slack_world(
    tmp_path: Path, config_text: str, **settings: Any
) -> AsyncIterator[SlackWorld]:
    """Lookout over HTTP with Slack on, its Web API the fake Slack, `config_text` its
    LOOKOUT_CONFIG; `settings` are more Settings fields."""
    fake, fake_server, fake_task = await start_fake_slack()
    config = tmp_path / "lookout.yaml"
    config.write_text(config_text)
    lookout_settings = Settings(
        data_dir=tmp_path / "slack-data",
        port=free_port(),
        config=config,
        slack_bot_token=SecretStr("xoxb-test-token"),
        slack_signing_secret=SecretStr(SIGNING_SECRET),
        slack_api_url=fake.api_url,
        **settings,
    )
    server, task, running = await start_server(lookout_settings)
    try:
        yield SlackWorld(fake=fake, server=running, config=config)
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=10)
        fake_server.should_exit = True
        await asyncio.wait_for(fake_task, timeout=10)
