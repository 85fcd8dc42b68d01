"""Who may use the console (LOOKOUT_CONSOLE_AUTH): other hosts through the ASGI app in
process (tests send to loopback only), loopback and the proxy mode through a real server."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from fastapi import FastAPI

from bot.console.access import NONE_WARNING
from bot.main import build, create_app
from bot.settings import Settings
from tests.bot.background.test_runbook_runs import FAILING
from tests.bot.test_webhook import storm_payload
from tests.conftest import RunningServer, free_port, start_server

OUTSIDER = ("10.1.2.3", 5000)
COMMAND = {"text": "/lookout incidents", "user": "alice"}
# Everything under the console: the page, its static files, its JSON API and its stream.
READS = [
    "/",
    "/console/static/app.js",
    "/console/api/session",
    "/console/api/channels",
    "/console/api/messages?channel=%23incidents",
    "/console/api/incidents",
    "/console/api/stream",
]


@pytest.fixture
async def app_for(tmp_path: Path) -> AsyncIterator[Any]:
    """`app_for(**settings)`: the assembled app on a migrated SQLite file, without a server."""
    built: list[Any] = []

    async def make(**settings: Any) -> FastAPI:
        lookout = build(Settings(data_dir=tmp_path / f"data{len(built)}", **settings))
        await lookout.database.upgrade()
        built.append(lookout)
        return create_app(lookout)

    yield make
    for lookout in built:
        await lookout.database.dispose()


def client_for(app: FastAPI, peer: tuple[str, int] = OUTSIDER, **kwargs: Any) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=peer)
    return httpx.AsyncClient(transport=transport, base_url="http://lookout", **kwargs)


async def test_by_default_other_hosts_get_nothing_of_the_console(app_for: Any) -> None:
    app = await app_for()
    async with client_for(app) as client:
        answers = [await client.get(path) for path in READS]
        posted = await client.post("/console/api/command", json=COMMAND)
        as_admin = await client.post(
            "/console/api/command", json={"text": "/lookout approve R-1", "user": "U0ADMIN"}
        )
    for answer in [*answers, posted, as_admin]:
        assert answer.status_code == 403, (answer.request.url, answer.text)
        assert "loopback clients only, not 10.1.2.3" in answer.json()["detail"]
        assert "LOOKOUT_CONSOLE_AUTH=proxy" in answer.json()["detail"]


async def test_by_default_loopback_passes_but_not_what_a_proxy_relays(app_for: Any) -> None:
    app = await app_for()
    async with client_for(app, ("127.0.0.1", 5000)) as client:
        direct = await client.get("/console/api/session")
        command = await client.post("/console/api/command", json=COMMAND)
        relayed = [
            await client.get("/console/api/channels", headers={name: value})
            for name, value in (
                ("X-Forwarded-For", "10.9.9.9"),
                ("X-Forwarded-For", "127.0.0.1, 10.9.9.9"),
                ("X-Real-IP", "10.9.9.9"),
                ("Forwarded", 'for="[2001:db8::1]:443";proto=https'),
            )
        ]
        # A proxy on the same machine relaying its own machine is still this machine.
        local_proxy = await client.get("/console/api/channels", headers={"X-Forwarded-For": "::1"})
    assert direct.json() == {"auth": "local", "user": None, "warning": None}
    assert command.status_code == 200
    assert [answer.status_code for answer in relayed] == [403, 403, 403, 403]
    assert "relayed by a proxy for 10.9.9.9" in relayed[0].json()["detail"]
    assert local_proxy.status_code == 200


async def test_webhooks_keep_their_own_authentication(app_for: Any) -> None:
    app = await app_for(webhook_token="s3cret")
    async with client_for(app) as client:
        console = await client.get("/console/api/incidents")
        without = await client.post("/webhooks/alertmanager", json=storm_payload())
        token = {"Authorization": "Bearer s3cret"}
        alerts = await client.post("/webhooks/alertmanager", json=storm_payload(), headers=token)
        health = await client.get("/healthz")
    assert console.status_code == 403
    assert without.status_code == 401 and without.json()["detail"] == "missing bearer token"
    assert alerts.status_code == 200 and health.status_code == 200


async def test_proxy_mode_takes_the_user_from_a_trusted_proxy_only(app_for: Any) -> None:
    app = await app_for(console_auth="proxy", trusted_proxies="10.0.0.0/8")
    async with client_for(app, ("192.0.2.7", 5000)) as client:
        untrusted = await client.get("/console/api/session", headers={"X-Forwarded-User": "ann"})
    async with client_for(app, ("127.0.0.1", 5000)) as client:
        not_loopback_either = await client.get(
            "/console/api/session", headers={"X-Forwarded-User": "ann"}
        )
    async with client_for(app) as client:
        anonymous = await client.get("/console/api/session")
        odd = await client.get("/console/api/session", headers={"X-Forwarded-User": "a b;c"})
        page = await client.get("/", headers={"X-Forwarded-User": "ann"})
        session = await client.get("/console/api/session", headers={"X-Forwarded-User": "ann"})
        posted = await client.post(
            "/console/api/command",
            json={"text": "/lookout incidents", "user": "U0ADMIN"},
            headers={"X-Forwarded-User": "ann"},
        )
        messages = await client.get(
            "/console/api/messages",
            params={"channel": "#incidents"},
            headers={"X-Forwarded-User": "ann"},
        )
    assert untrusted.status_code == 403
    assert "192.0.2.7 is not a trusted proxy (LOOKOUT_TRUSTED_PROXIES)" in untrusted.text
    assert not_loopback_either.status_code == 403
    assert anonymous.status_code == 401
    assert "no X-Forwarded-User header" in anonymous.json()["detail"]
    assert odd.status_code == 401 and "is not a user name" in odd.json()["detail"]
    assert page.status_code == 200
    assert session.json() == {"auth": "proxy", "user": "ann", "warning": None}
    assert posted.status_code == 200
    assert [m["author"] for m in messages.json()] == ["ann", "Lookout"]


async def test_proxy_mode_reads_the_configured_header(app_for: Any) -> None:
    app = await app_for(
        console_auth="proxy", console_user_header="X-Auth-Request-User", trusted_proxies="10.1.2.3"
    )
    async with client_for(app) as client:
        default_header = await client.get(
            "/console/api/session", headers={"X-Forwarded-User": "ann"}
        )
        configured = await client.get(
            "/console/api/session", headers={"X-Auth-Request-User": "bob"}
        )
    assert default_header.status_code == 401
    assert "no X-Auth-Request-User header" in default_header.json()["detail"]
    assert configured.json()["user"] == "bob"


async def test_auth_none_opens_the_console_and_says_so(app_for: Any) -> None:
    app = await app_for(console_auth="none")
    async with client_for(app) as client:
        session = await client.get("/console/api/session")
        posted = await client.post("/console/api/command", json=COMMAND)
    assert session.json() == {"auth": "none", "user": None, "warning": NONE_WARNING}
    assert "anyone can act as any user" in NONE_WARNING
    assert posted.status_code == 200


async def test_auth_none_warns_at_start(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    settings = Settings(data_dir=tmp_path / "data", port=free_port(), console_auth="none")
    caplog.set_level(logging.WARNING, logger="bot.main")
    server, task, running = await start_server(settings)
    try:
        async with running.client() as client:
            session = (await client.get("/console/api/session")).json()
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=10)
    assert NONE_WARNING in [record.getMessage() for record in caplog.records]
    assert session["warning"] == NONE_WARNING


async def test_loopback_still_works_through_a_real_server(server: RunningServer) -> None:
    async with server.client() as client:
        session = await client.get("/console/api/session")
        page = await client.get("/")
        posted = await client.post("/console/api/command", json={**COMMAND, "user": "bob"})
        messages = await client.get("/console/api/messages", params={"channel": "#incidents"})
    assert session.json() == {"auth": "local", "user": None, "warning": None}
    assert page.status_code == 200 and "You are:" in page.text
    assert posted.status_code == 200
    assert [m["author"] for m in messages.json()] == ["bob", "Lookout"]


@pytest.fixture
async def behind_proxy(tmp_path: Path) -> AsyncIterator[RunningServer]:
    """A real server in proxy mode (the proxy on loopback) with a high-risk runbook."""
    runbooks = tmp_path / "runbooks"
    runbooks.mkdir()
    (runbooks / "break-things.yaml").write_text(yaml.safe_dump(FAILING))
    config = tmp_path / "lookout.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "runbooks": {
                    "library": False,
                    "directory": str(runbooks),
                    "execution": {"executables": ["/bin/echo", "/bin/false"]},
                }
            }
        )
    )
    settings = Settings(
        data_dir=tmp_path / "data", port=free_port(), config=config, console_auth="proxy"
    )
    server, task, running = await start_server(settings)
    try:
        yield running
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=10)


async def as_user(
    client: httpx.AsyncClient, signed_in: str, text: str, *, named: str
) -> dict[str, Any]:
    """`text` sent by `signed_in` (the proxy's header) with `named` in the body's `user`."""
    response = await client.post(
        "/console/api/command",
        json={"text": text, "user": named},
        # What oauth2-proxy sends: the user, and the browser's address it relays.
        headers={"X-Forwarded-User": signed_in, "X-Forwarded-For": "203.0.113.9"},
    )
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def test_behind_a_proxy_the_body_cannot_name_another_user(
    behind_proxy: RunningServer,
) -> None:
    async with behind_proxy.client() as client:
        await client.post("/webhooks/alertmanager", json=storm_payload(1, "checkout"))
        acked = await as_user(client, "alice", "/lookout ack INC-1", named="bob")
        anonymous = await client.get("/console/api/session")
        session = await client.get("/console/api/session", headers={"X-Forwarded-User": "alice"})
    assert "acknowledged by **alice**" in acked["text"]
    assert anonymous.status_code == 401
    assert session.json() == {"auth": "proxy", "user": "alice", "warning": None}


async def test_behind_a_proxy_the_two_person_rule_holds(behind_proxy: RunningServer) -> None:
    async with behind_proxy.client() as client:
        await client.post("/webhooks/alertmanager", json=storm_payload(1, "checkout"))
        await as_user(client, "alice", "/lookout run break-things --incident INC-1", named="alice")
        # The picker's way round the rule: the same person, naming someone else in the body.
        walked = await as_user(client, "alice", "/lookout approve R-1", named="bob")
        second = await as_user(client, "bob", "/lookout approve R-1", named="alice")
    async with behind_proxy.lookout.database.unit_of_work() as uow:
        run = await uow.runs.get(run_id=1)
    assert walked["text"] == (
        "You cannot approve R-1: break-things is high risk: a second person approves."
    )
    assert second["text"] == "Approved R-1 — starting."
    assert run is not None and run.requested_by == "console:alice"
    assert "bob" in str(run.approvals) and "alice" not in str(run.approvals)


async def test_a_proxy_header_from_an_untrusted_peer_is_refused(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path / "data",
        port=free_port(),
        console_auth="proxy",
        trusted_proxies="10.0.0.0/8",
    )
    server, task, running = await start_server(settings)
    try:
        async with running.client() as client:
            refused = await client.post(
                "/console/api/command",
                json=COMMAND,
                headers={"X-Forwarded-User": "alice"},
            )
            health = await client.get("/healthz")
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=10)
    assert refused.status_code == 403
    assert "127.0.0.1 is not a trusted proxy" in refused.json()["detail"]
    assert health.status_code == 200
