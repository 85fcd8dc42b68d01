"""Teams tests run the real app and the real botbuilder stack against local fakes of Microsoft.

`teams` starts the fakes (tests/bot/teams/fakes.py) and, on demand, Lookout itself through
its composition root; requests are the recorded Teams activities of ../shared/fixtures/teams,
with `serviceUrl` pointed at the fake Bot Connector and a JWT signed by the fake identity.
"""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
import yaml
from botframework.connector.auth.jwt_token_extractor import JwtTokenExtractor
from pydantic import SecretStr

from bot.settings import Settings
from bot.teams.adapter import TeamsAdapter
from bot.teams.retry import RetryPolicy
from tests.bot.teams.fakes import FakeBotConnector, FakeIdentity, LoopbackCredentialFactory
from tests.conftest import FIXTURES, RunningServer, free_port, start_server

APP_ID = "eac5e5c6-ab14-4f50-80cb-49213fe51b1a"  # the bot of the recordings: 28:<app id>
APP_PASSWORD = "not-a-real-secret"
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
CHANNEL = "19:097e6717fd7245bdbeba6baa13840db8@thread.skype"  # the team's General channel
OTHER_CHANNEL = "19:5b4c1bd2e9d34ae8a31c8b8e2f8ad1c4@thread.tacv2"  # where payments goes
TEAMS_FIXTURES = FIXTURES / "teams"
RECORDED_SERVICE_URL = "https://smba.trafficmanager.net/amer/"
FAST_RETRIES = RetryPolicy(attempts=4, base_delay=0.01, max_delay=2.0)


def recorded(name: str) -> dict[str, Any]:
    """A recorded Teams request: {"body": activity, "headers_without_authorization": …}.
    (09, from Microsoft's docs, is a bare activity; it gets the same shape.)"""
    path = TEAMS_FIXTURES / name
    if not path.is_file():
        pytest.skip(f"the shared Teams fixtures are not at {TEAMS_FIXTURES}")
    data: dict[str, Any] = json.loads(path.read_text())
    return data if "body" in data else {"body": data, "headers_without_authorization": {}}


class TeamsWorld:
    """The fakes, the running Lookout, and helpers to talk to it as Teams does."""

    def __init__(self, tmp_path: Path, identity: FakeIdentity, connector: FakeBotConnector):
        self.tmp_path = tmp_path
        self.identity = identity
        self.connector = connector
        self.running: RunningServer | None = None
        self._server: tuple[uvicorn.Server, asyncio.Task[None]] | None = None
        self.extra_config: dict[str, Any] = {}  # merged into LOOKOUT_CONFIG (e.g. access)

    def settings(self, **overrides: Any) -> Settings:
        config = self.tmp_path / "lookout.yaml"
        config.write_text(
            yaml.safe_dump(
                {
                    "routing": {"platforms": {"teams": "General"}},
                    "services": [{"name": "payments", "channels": {"teams": OTHER_CHANNEL}}],
                    **self.extra_config,
                }
            )
        )
        values: dict[str, Any] = {
            "data_dir": self.tmp_path / "teams-data",
            "host": "127.0.0.1",
            "port": free_port(),
            "config": config,
            "teams_app_id": APP_ID,
            "teams_app_password": SecretStr(APP_PASSWORD),
            "teams_tenant_id": TENANT,
        }
        return Settings(**{**values, **overrides})

    async def start(self, **overrides: Any) -> RunningServer:
        server, task, running = await start_server(self.settings(**overrides))
        self._server = (server, task)
        self.running = running
        return running

    async def stop(self) -> None:
        if self._server is not None:
            server, task = self._server
            server.should_exit = True
            await asyncio.wait_for(task, timeout=10)
            self._server = None
            self.running = None

    def activity(self, fixture: str, /, **changes: Any) -> dict[str, Any]:
        """The recorded activity, addressed to the fake connector, with `changes` applied."""
        body: dict[str, Any] = copy.deepcopy(recorded(fixture)["body"])
        body["serviceUrl"] = self.connector.service_url
        body.update(changes)
        return body

    def in_channel(self, channel_id: str, text: str) -> dict[str, Any]:
        """Fixture 01 (an @mention in a channel), as if sent in another channel of the team."""
        recorded_body = self.activity("01_channel_message_at_mention.json")
        return self.activity(
            "01_channel_message_at_mention.json",
            text=f"<at>My Combined</at> {text}",
            conversation={**recorded_body["conversation"], "id": f"{channel_id};messageid=1"},
            channelData={
                **recorded_body["channelData"],
                "teamsChannelId": channel_id,
                "channel": {"id": channel_id},
            },
        )

    def token(self, activity: dict[str, Any], **claims: Any) -> str:
        return self.identity.sign(service_url=activity["serviceUrl"], **claims)

    async def send(
        self, activity: dict[str, Any], *, authorization: str | None = "sign"
    ) -> httpx.Response:
        """POST the activity to /api/messages as Teams does; "sign" means a valid token."""
        assert self.running is not None, "start() Lookout first"
        headers = {"Content-Type": "application/json; charset=utf-8"}
        if authorization == "sign":
            headers["Authorization"] = f"Bearer {self.token(activity)}"
        elif authorization is not None:
            headers["Authorization"] = authorization
        async with self.running.client() as client:
            return await client.post("/api/messages", json=activity, headers=headers)

    async def alert(self, payload: dict[str, Any]) -> None:
        assert self.running is not None
        async with self.running.client() as client:
            response = await client.post("/webhooks/alertmanager", json=payload)
            assert response.status_code == 200, response.text

    async def flush(self) -> None:
        assert self.running is not None
        await self.running.lookout.notifier.flush()


@pytest.fixture
def identity() -> Iterator[FakeIdentity]:
    fake = FakeIdentity(app_id=APP_ID, app_password=APP_PASSWORD)
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()
        # The SDK caches OpenID metadata per URL in a class attribute; leave it as we found it.
        JwtTokenExtractor.metadataCache.pop(fake.openid_metadata_url, None)


@pytest.fixture
def connector() -> Iterator[FakeBotConnector]:
    fake = FakeBotConnector()
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture
def wired_to_fakes(monkeypatch: pytest.MonkeyPatch, identity: FakeIdentity) -> None:
    """The composition root builds TeamsAdapter.from_settings(settings, …); here that call
    also gets the fake OpenID metadata, the loopback credentials and quick retries."""
    original = TeamsAdapter.from_settings.__func__  # type: ignore[attr-defined]

    def from_settings(cls: type[TeamsAdapter], /, settings: Settings, **kwargs: Any) -> Any:
        kwargs.setdefault("openid_metadata_url", identity.openid_metadata_url)
        if not settings.teams_insecure_dev:
            kwargs.setdefault("credentials", LoopbackCredentialFactory(identity))
        kwargs.setdefault("retry", FAST_RETRIES)
        return original(cls, settings, **kwargs)

    monkeypatch.setattr(TeamsAdapter, "from_settings", classmethod(from_settings))


@pytest.fixture
async def teams(
    tmp_path: Path,
    identity: FakeIdentity,
    connector: FakeBotConnector,
    wired_to_fakes: None,
) -> AsyncIterator[TeamsWorld]:
    world = TeamsWorld(tmp_path, identity, connector)
    try:
        yield world
    finally:
        await world.stop()
