"""Lookout on a loopback port, in a thread of its own, for tests that drive it synchronously.

Schema fuzzing (schemathesis, hypothesis) sends requests from blocking code; the server and
the fake Slack Web API run on an event loop in another thread. Slack and Teams are on, with
the fake Microsoft identity and Bot Connector of tests/bot/teams/fakes.py; GitHub and
PagerDuty deliveries need their signatures. `SigningAdapter` signs every request the way its
sender would, so generated bodies get past authentication and reach the parsers, and points
every URL a body carries (Slack's `response_url`, Teams' `serviceUrl`) at the local fakes.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Coroutine, Iterator
from concurrent.futures import Future
from contextlib import AsyncExitStack, contextmanager
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
import requests
from pydantic import SecretStr
from requests.adapters import HTTPAdapter
from sqlalchemy import text

from bot.settings import Settings
from bot.teams.adapter import TeamsAdapter
from tests.bot.slack.conftest import SIGNING_SECRET
from tests.bot.slack.fake_slack import start_fake_slack
from tests.bot.teams.conftest import APP_ID, APP_PASSWORD, FAST_RETRIES, TENANT
from tests.bot.teams.fakes import FakeBotConnector, FakeIdentity, LoopbackCredentialFactory
from tests.conftest import RunningServer, free_port, fresh_postgres, start_server

GITHUB_SECRET = "github-webhook-secret"
PAGERDUTY_SECRET = "pagerduty-webhook-secret"
WEBHOOK_TOKEN = "webhook-token"
BEARER_PATHS = ("/webhooks/alertmanager", "/webhooks/changes", "/webhooks/changes/argocd")
# Tables a refused request must leave as they were.
WRITTEN_TABLES = (
    "alerts",
    "incidents",
    "incident_events",
    "changes",
    "audit_log",
    "platform_requests",
    "console_messages",
)
COUNT = {"audit_log": "SELECT count(*) FROM audit_log WHERE outcome <> 'refused'"}
T = TypeVar("T")


def slack_signature(body: bytes, timestamp: str, secret: str = SIGNING_SECRET) -> str:
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def hub_signature(body: bytes, secret: str = GITHUB_SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def pagerduty_signature(body: bytes, secret: str = PAGERDUTY_SECRET) -> str:
    return "v1=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class FuzzWorld:
    """The running Lookout and its fakes; `run(coro)` runs a coroutine on the server's loop."""

    def __init__(
        self,
        *,
        loop: asyncio.AbstractEventLoop,
        server: RunningServer,
        identity: FakeIdentity,
        connector: FakeBotConnector,
        slack_url: str,
    ) -> None:
        self.loop = loop
        self.server = server
        self.identity = identity
        self.connector = connector
        self.slack_url = slack_url

    @property
    def url(self) -> str:
        return self.server.url

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=60)

    def counts(self) -> dict[str, int]:
        """Rows in each of WRITTEN_TABLES; in `audit_log`, those that are not the audit of a
        refused delivery (a refusal is audited; it stores nothing else)."""

        async def count() -> dict[str, int]:
            async with self.server.lookout.database.engine.connect() as connection:
                return {
                    table: int(
                        (
                            await connection.execute(
                                text(COUNT.get(table, f"SELECT count(*) FROM {table}"))
                            )
                        ).scalar()
                        or 0
                    )
                    for table in WRITTEN_TABLES
                }

        return self.run(count())

    def session(self) -> requests.Session:
        """A requests session that signs as each sender does (see SigningAdapter)."""
        session = requests.Session()
        session.mount("http://", SigningAdapter(self))
        return session


class SigningAdapter(HTTPAdapter):
    """Signs each request as its real sender would, over the exact bytes sent."""

    def __init__(self, world: FuzzWorld) -> None:
        super().__init__()
        self.world = world

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> Any:
        path = urlsplit(request.url or "").path
        sent = request.body or b""
        body = sent.encode() if isinstance(sent, str) else sent
        assert isinstance(body, bytes), "bodies here are bytes or text, never streams"
        if path == "/slack/events":
            body = self._slack_body(body, str(request.headers.get("content-type", "")))
            stamp = str(int(time.time()))
            request.headers["X-Slack-Request-Timestamp"] = stamp
            request.headers["X-Slack-Signature"] = slack_signature(body, stamp)
        elif path == "/api/messages":
            body = self._teams_body(body)
            request.headers["Authorization"] = "Bearer " + self.world.identity.sign(
                service_url=self.world.connector.service_url
            )
        elif path == "/webhooks/changes/github":
            request.headers["X-Hub-Signature-256"] = hub_signature(body)
        elif path in BEARER_PATHS:
            request.headers["Authorization"] = f"Bearer {WEBHOOK_TOKEN}"
        elif path == "/webhooks/pagerduty":
            request.headers["X-PagerDuty-Signature"] = pagerduty_signature(body)
        request.body = body
        request.headers["Content-Length"] = str(len(body))
        return super().send(request, *args, **kwargs)

    def _slack_body(self, body: bytes, content_type: str) -> bytes:
        """Every `response_url` (which Lookout answers to) pointed at the fake Slack."""
        if "x-www-form-urlencoded" not in content_type:
            return body
        try:
            fields = parse_qsl(body.decode(), keep_blank_values=True, strict_parsing=False)
        except UnicodeDecodeError:
            return body
        fixed = []
        for key, value in fields:
            if key == "response_url":
                value = f"{self.world.slack_url}/hooks/fuzz"
            elif key == "payload":
                try:
                    payload = json.loads(value)
                except (ValueError, RecursionError):
                    payload = None
                if isinstance(payload, dict):
                    payload["response_url"] = f"{self.world.slack_url}/hooks/fuzz"
                    payload.pop("response_urls", None)
                    value = json.dumps(payload)
            fixed.append((key, value))
        return urlencode(fixed).encode()

    def _teams_body(self, body: bytes) -> bytes:
        """The activity's `serviceUrl` (where Lookout answers) pointed at the fake connector."""
        try:
            activity = json.loads(body)
        except (ValueError, RecursionError):
            return body
        if isinstance(activity, dict):
            activity["serviceUrl"] = self.world.connector.service_url
            return json.dumps(activity).encode()
        return body


@contextmanager
def fuzz_world(tmp_path: Path, *, postgres: bool) -> Iterator[FuzzWorld]:
    """Lookout with Slack, Teams, a webhook token, GitHub and PagerDuty secrets on, in a
    thread of its own, on PostgreSQL (whose column types refuse more than SQLite's) or a
    SQLite file."""
    identity = FakeIdentity(app_id=APP_ID, app_password=APP_PASSWORD)
    connector = FakeBotConnector()
    identity.start()
    connector.start()
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="fuzz-world", daemon=True)
    thread.start()
    stack = AsyncExitStack()

    def on_loop(coroutine: Coroutine[Any, Any, T]) -> T:
        future: Future[T] = asyncio.run_coroutine_threadsafe(coroutine, loop)
        return future.result(timeout=120)

    async def start() -> tuple[RunningServer, str]:
        fake, fake_server, fake_task = await start_fake_slack()

        async def stop_fake() -> None:
            fake_server.should_exit = True
            await asyncio.wait_for(fake_task, timeout=10)

        stack.push_async_callback(stop_fake)
        url = await stack.enter_async_context(fresh_postgres()) if postgres else None
        settings = Settings(
            data_dir=tmp_path / "data",
            host="127.0.0.1",
            port=free_port(),
            database_url=url,
            slack_bot_token=SecretStr("xoxb-test-token"),
            slack_signing_secret=SecretStr(SIGNING_SECRET),
            slack_api_url=fake.api_url,
            teams_app_id=APP_ID,
            teams_app_password=SecretStr(APP_PASSWORD),
            teams_tenant_id=TENANT,
            github_webhook_secret=SecretStr(GITHUB_SECRET),
            pagerduty_webhook_secret=SecretStr(PAGERDUTY_SECRET),
            webhook_token=SecretStr(WEBHOOK_TOKEN),
        )
        server, task, running = await start_server(settings)

        async def stop_server() -> None:
            server.should_exit = True
            await asyncio.wait_for(task, timeout=10)

        stack.push_async_callback(stop_server)
        return running, fake.url

    original = TeamsAdapter.from_settings.__func__  # type: ignore[attr-defined]

    def from_settings(cls: type[TeamsAdapter], /, settings: Settings, **kwargs: Any) -> Any:
        kwargs.setdefault("openid_metadata_url", identity.openid_metadata_url)
        kwargs.setdefault("credentials", LoopbackCredentialFactory(identity))
        kwargs.setdefault("retry", FAST_RETRIES)
        return original(cls, settings, **kwargs)

    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(TeamsAdapter, "from_settings", classmethod(from_settings))
            running, slack_url = on_loop(start())
        yield FuzzWorld(
            loop=loop, server=running, identity=identity, connector=connector, slack_url=slack_url
        )
    finally:
        on_loop(stack.aclose())
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
        identity.stop()
        connector.stop()
