"""POST /webhooks/alertmanager over real HTTP: fixtures, bad bodies, auth, idempotency."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from bot.main import build, create_app
from bot.settings import Settings
from storage.database import Database
from tests.conftest import RunningServer, fresh_postgres, start_server


def storm_payload(count: int = 3, service: str = "checkout") -> dict[str, Any]:
    now = datetime.now(UTC).isoformat()
    return {
        "version": "4",
        "groupKey": f'{{}}:{{service="{service}"}}',
        "status": "firing",
        "receiver": "lookout",
        "alerts": [
            {
                "status": "firing",
                "labels": {"alertname": f"Alert{i}", "service": service, "severity": "critical"},
                "annotations": {"summary": f"symptom {i}"},
                "startsAt": now,
                "endsAt": "0001-01-01T00:00:00Z",
            }
            for i in range(count)
        ],
    }


def load_fixtures(folder: Path) -> list[tuple[str, dict[str, Any]]]:
    return [(path.name, json.loads(path.read_text())) for path in sorted(folder.glob("*.json"))]


async def wait_for_posts(server: RunningServer, expected: int) -> list[dict[str, Any]]:
    async with server.client() as client:
        for _ in range(200):
            await server.lookout.notifier.flush()
            response = await client.get("/console/api/messages", params={"channel": "#incidents"})
            messages: list[dict[str, Any]] = response.json()
            if len(messages) >= expected:
                return messages
            await asyncio.sleep(0.05)
    raise AssertionError(f"expected {expected} posts")


async def test_every_alertmanager_fixture_is_accepted(
    server: RunningServer, alertmanager_fixtures: Path
) -> None:
    async with server.client() as client:
        for name, body in load_fixtures(alertmanager_fixtures):
            response = await client.post("/webhooks/alertmanager", json=body)
            assert response.status_code == 200, (name, response.text)
            assert response.json()["received"] == len(body["alerts"])
        incidents = (await client.get("/console/api/incidents", params={"status": "all"})).json()
    # 01 and 02 share the groupKey `{alertname="high_memory_load"}`, which names no service
    # or instance, so it joins nothing: 02's twelve alerts carry nothing but distinct names
    # (no service, no instance, no topology), so each is its own incident. 03 and 04 arrive
    # resolved (no incident for what we never saw fire); 05 and 06 fire, then resolve, the
    # same three pings.
    by_title = {i["title"]: i for i in incidents}
    memory = ["unknown: high_memory_load"] + [f"unknown: high_memory_load{n}" for n in range(2, 13)]
    assert sorted(by_title) == sorted(
        ["blackbox-icmp: ICMP ping failed", "docker_nodes: high_memory_load", *memory]
    )
    assert len(by_title["docker_nodes: high_memory_load"]["alert_fingerprints"]) == 1
    pings = by_title["blackbox-icmp: ICMP ping failed"]
    assert len(pings["alert_fingerprints"]) == 3
    assert (pings["status"], pings["severity"]) == ("resolved", "error")


async def test_the_same_payload_twice_changes_nothing(server: RunningServer) -> None:
    body = storm_payload()
    async with server.client() as client:
        first = (await client.post("/webhooks/alertmanager", json=body)).json()
        second = (await client.post("/webhooks/alertmanager", json=body)).json()
    assert (first["new"], len(first["incidents_created"])) == (3, 1)
    assert (second["new"], second["unchanged"], second["incidents_changed"]) == (0, 3, [])


async def test_twenty_concurrent_deliveries_make_one_incident_and_one_post(
    server: RunningServer,
) -> None:
    body = storm_payload(5)
    async with server.client() as client:
        responses = await asyncio.gather(
            *(client.post("/webhooks/alertmanager", json=body) for _ in range(20))
        )
        assert {r.status_code for r in responses} == {200}
        assert sum(len(r.json()["incidents_created"]) for r in responses) == 1
        incidents = (await client.get("/console/api/incidents")).json()
    assert len(incidents) == 1 and len(incidents[0]["alert_fingerprints"]) == 5
    messages = await wait_for_posts(server, 1)
    await asyncio.sleep(0.3)
    await server.lookout.notifier.flush()
    async with server.client() as client:
        messages = (
            await client.get("/console/api/messages", params={"channel": "#incidents"})
        ).json()
        metrics = (await client.get("/metrics")).text
    assert len(messages) == 1 and messages[0]["incident_id"] == incidents[0]["id"]
    assert 'lookout_chat_posts_total{platform="console"} 1.0' in metrics


async def test_twenty_concurrent_deliveries_on_postgresql(tmp_path: Path) -> None:
    async with fresh_postgres() as url:
        from tests.conftest import free_port

        settings = Settings(data_dir=tmp_path, database_url=url, port=free_port())
        uvicorn_server, task, running = await start_server(settings)
        try:
            body = storm_payload(5, service="payments")
            async with running.client() as client:
                responses = await asyncio.gather(
                    *(client.post("/webhooks/alertmanager", json=body) for _ in range(20))
                )
                assert {r.status_code for r in responses} == {200}
                incidents = (await client.get("/console/api/incidents")).json()
            assert len(incidents) == 1
            messages = await wait_for_posts(running, 1)
            assert len(messages) == 1
        finally:
            uvicorn_server.should_exit = True
            await asyncio.wait_for(task, timeout=10)


@pytest.mark.parametrize(
    ("content", "status", "reason"),
    [
        (b"{not json", 400, "body is not valid JSON"),
        (b"\xff\xfe", 400, "body is not valid JSON"),
        (b"[1, 2]", 422, "body must be a JSON object"),
        (b'{"alerts": []}', 422, "alerts: List should have at least 1 item"),
        (b'{"alerts": [{"labels": {"a": "b"}}]}', 422, "alerts.0.startsAt: Field required"),
        (
            b'{"alerts": [{"labels": {"a": "b"}, "startsAt": "soon"}]}',
            422,
            "not an RFC 3339 timestamp",
        ),
        (
            b'{"alerts": [{"labels": {}, "startsAt": "2024-01-01T00:00:00Z"}]}',
            422,
            "at least one label",
        ),
    ],
)
async def test_bad_bodies_get_a_4xx_with_the_reason(
    server: RunningServer, content: bytes, status: int, reason: str
) -> None:
    async with server.client() as client:
        response = await client.post(
            "/webhooks/alertmanager", content=content, headers={"content-type": "application/json"}
        )
    assert response.status_code == status
    assert reason in response.json()["detail"]


async def test_bodies_over_one_mebibyte_get_413(server: RunningServer) -> None:
    filler = {"labels": {"alertname": "x" * 1000}, "startsAt": "2024-01-01T00:00:00Z"}
    body = json.dumps({"alerts": [filler] * 1100}).encode()
    assert len(body) > 1024 * 1024

    async def chunked() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 65536):
            yield body[start : start + 65536]

    async with server.client() as client:
        declared = await client.post("/webhooks/alertmanager", content=body)
        streamed = await client.post("/webhooks/alertmanager", content=chunked())
    assert declared.status_code == 413 and streamed.status_code == 413
    assert "larger than 1048576 bytes" in declared.json()["detail"]


async def test_bearer_token_is_required_when_configured(tmp_path: Path) -> None:
    from tests.conftest import free_port

    settings = Settings(data_dir=tmp_path, port=free_port(), webhook_token=SecretStr("s3cret"))
    uvicorn_server, task, running = await start_server(settings)
    try:
        async with running.client() as client:
            url = "/webhooks/alertmanager"
            missing = await client.post(url, json=storm_payload())
            wrong = await client.post(
                url, json=storm_payload(), headers={"Authorization": "Bearer nope"}
            )
            basic = await client.post(
                url, json=storm_payload(), headers={"Authorization": "Basic s3cret"}
            )
            right = await client.post(
                url, json=storm_payload(), headers={"Authorization": "Bearer s3cret"}
            )
            incidents = (await client.get("/console/api/incidents")).json()
    finally:
        uvicorn_server.should_exit = True
        await asyncio.wait_for(task, timeout=10)
    assert (missing.status_code, wrong.status_code, basic.status_code) == (401, 401, 401)
    assert missing.json()["detail"] == "missing bearer token"
    assert missing.headers["www-authenticate"] == "Bearer"
    assert wrong.json()["detail"] == "invalid bearer token"
    assert right.status_code == 200 and len(incidents) == 1


async def test_without_a_token_only_loopback_clients_may_post(tmp_path: Path) -> None:
    lookout = build(Settings(data_dir=tmp_path))
    app = create_app(lookout)
    await lookout.database.upgrade()
    try:
        outside = httpx.ASGITransport(app=app, client=("203.0.113.7", 40000))
        inside = httpx.ASGITransport(app=app, client=("::1", 40000))
        async with httpx.AsyncClient(transport=outside, base_url="http://lookout") as client:
            refused = await client.post("/webhooks/alertmanager", json=storm_payload())
        async with httpx.AsyncClient(transport=inside, base_url="http://lookout") as client:
            accepted = await client.post("/webhooks/alertmanager", json=storm_payload())
    finally:
        await lookout.database.dispose()
    assert refused.status_code == 401
    assert "only loopback clients may post alerts" in refused.json()["detail"]
    assert accepted.status_code == 200


async def test_operational_endpoints(server: RunningServer) -> None:
    async with server.client() as client:
        await client.post("/webhooks/alertmanager", json=storm_payload())
        await client.post(
            "/console/api/command", json={"text": "/lookout incidents", "user": "ann"}
        )
        health = await client.get("/healthz")
        ready = await client.get("/readyz")
        metrics = (await client.get("/metrics")).text
        openapi = (await client.get("/openapi.json")).json()
    assert health.json() == {"status": "ok"}
    assert ready.status_code == 200 and ready.json()["schema"] == Database.head_revision()
    assert 'lookout_alerts_received_total{outcome="new"} 3.0' in metrics
    assert "lookout_incidents_open 1.0" in metrics
    assert 'lookout_skill_duration_seconds_count{outcome="ok",skill="incidents"} 1.0' in metrics
    assert 'lookout_webhook_requests_total{source="alertmanager",status="200"} 1.0' in metrics
    opened = re.search(r"^lookout_database_connections_opened_total (\S+)$", metrics, re.M)
    assert opened is not None and float(opened[1]) >= 1
    assert "/webhooks/alertmanager" in openapi["paths"]
    assert "/console/api/command" in openapi["paths"]


@pytest.mark.parametrize("store", ["sqlite", "postgresql"])
async def test_readyz_reports_a_database_behind_its_migrations(
    store: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if (store == "postgresql") != (request.config.getoption("--database") == "postgresql"):
        pytest.skip(f"{store} is checked in the {store} pass")
    async with AsyncExitStack() as stack:
        url = None
        if store == "postgresql":  # a database of its own, never migrated
            url = await stack.enter_async_context(fresh_postgres())
        await readyz_before_migrations(tmp_path, url)


async def readyz_before_migrations(tmp_path: Path, url: str | None) -> None:
    settings = Settings(data_dir=tmp_path, database_url=url) if url else Settings(data_dir=tmp_path)
    lookout = build(settings)
    app = create_app(lookout)  # lifespan not run: the schema was never migrated
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://lookout") as client:
            response = await client.get("/readyz")
    finally:
        await lookout.database.dispose()
    assert response.status_code == 503
    assert (
        response.json()["reason"] == f"database schema at None, expected {Database.head_revision()}"
    )
