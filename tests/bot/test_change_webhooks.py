"""POST /webhooks/changes (+ /github, /argocd) over real HTTP: auth, signatures, bad bodies,
idempotency, and what a change does to the incident message."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from bot.settings import Settings
from tests.bot.test_webhook import wait_for_posts
from tests.conftest import RunningServer, fixture_json, free_port, start_server

TOKEN = "change-token"
SECRET = "It's a Secret to Everybody"


@pytest.fixture
async def guarded(tmp_path: Path) -> AsyncIterator[RunningServer]:
    """Lookout with a webhook token and a GitHub secret."""
    settings = Settings(
        data_dir=tmp_path / "data",
        port=free_port(),
        webhook_token=SecretStr(TOKEN),
        github_webhook_secret=SecretStr(SECRET),
    )
    server, task, running = await start_server(settings)
    try:
        yield running
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=10)


def deploy(**overrides: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    body = {
        "id": "deploy-981",
        "kind": "deployment",
        "services": ["checkout"],
        "environment": "prod",
        "version": "v2.3.1",
        "previous_version": "v2.3.0",
        "author": "dana",
        "started_at": (now - timedelta(minutes=18)).isoformat(),
        "finished_at": (now - timedelta(minutes=15)).isoformat(),
        "url": "https://deploy.example.com/981",
        "labels": {},
    }
    return {**body, **overrides}


def alert_body(service: str = "checkout") -> dict[str, Any]:
    return {
        "version": "4",
        "status": "firing",
        "groupKey": f'{{}}:{{service="{service}"}}',
        "alerts": [
            {
                "labels": {
                    "alertname": "HighErrorRate",
                    "service": service,
                    "severity": "critical",
                    "environment": "production",
                },
                "annotations": {"summary": "5xx ratio above 5%"},
                "startsAt": datetime.now(UTC).isoformat(),
            }
        ],
    }


def signed(body: bytes, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


async def test_a_change_then_an_alert_puts_the_change_on_the_incident_message(
    server: RunningServer,
) -> None:
    body = deploy()
    async with server.client() as client:
        first = await client.post("/webhooks/changes", json=body)
        again = await client.post("/webhooks/changes", json=body)
        assert first.status_code == 200, first.text
        assert (first.json()["outcome"], again.json()["outcome"]) == ("created", "unchanged")
        assert (await client.post("/webhooks/alertmanager", json=alert_body())).status_code == 200
    [message] = await wait_for_posts(server, 1)
    texts = [block.get("text", "") for block in message["blocks"]]
    line = next(text for text in texts if text.startswith("⚠"))
    assert line.startswith("⚠ checkout v2.3.1 deployed 15 min before — score 0.")
    assert float(line.rsplit(" ", 1)[1]) >= 0.6
    cause = next(text for text in texts if text.startswith("🎯"))
    assert "changed 15 min before its first alert: checkout v2.3.1 deployed" in cause


async def test_a_late_change_moves_an_open_incident(server: RunningServer) -> None:
    async with server.client() as client:
        await client.post("/webhooks/alertmanager", json=alert_body())
        response = await client.post("/webhooks/changes", json=deploy())
        assert response.json()["incidents_changed"] == ["INC-1"]
        timeline = await client.post(
            "/console/api/command", json={"text": "timeline INC-1", "user": "ann"}
        )
    assert "Suspect change: checkout v2.3.1 deployed" in timeline.json()["text"]


@pytest.mark.parametrize(
    ("content", "status", "reason"),
    [
        (b"{not json", 400, "body is not valid JSON"),
        (b"[1]", 422, "body must be a JSON object"),
        (json.dumps(deploy(kind="rollout")).encode(), 422, "kind: Input should be"),
        (json.dumps(deploy(services=[])).encode(), 422, "services: List should have at least"),
        (json.dumps(deploy(started_at="yesterday")).encode(), 422, "started_at"),
    ],
)
async def test_bad_change_bodies_get_4xx_with_the_reason(
    server: RunningServer, content: bytes, status: int, reason: str
) -> None:
    async with server.client() as client:
        response = await client.post(
            "/webhooks/changes", content=content, headers={"content-type": "application/json"}
        )
    assert response.status_code == status
    assert reason in response.json()["detail"]


async def test_the_bearer_token_guards_changes_and_argocd(guarded: RunningServer) -> None:
    async with guarded.client() as client:
        for path in ("/webhooks/changes", "/webhooks/changes/argocd"):
            missing = await client.post(path, json=deploy())
            wrong = await client.post(path, json=deploy(), headers={"authorization": "Bearer x"})
            assert (missing.status_code, wrong.status_code) == (401, 401)
        ok = await client.post(
            "/webhooks/changes", json=deploy(), headers={"authorization": f"Bearer {TOKEN}"}
        )
    assert ok.status_code == 200


async def test_github_deliveries_must_be_signed(guarded: RunningServer) -> None:
    body = json.dumps(fixture_json("github", "02_octokit_deployment_status_success.json")).encode()
    headers = {"content-type": "application/json", "x-github-event": "deployment_status"}
    async with guarded.client() as client:
        unsigned = await client.post("/webhooks/changes/github", content=body, headers=headers)
        forged = await client.post(
            "/webhooks/changes/github",
            content=body,
            headers={**headers, "x-hub-signature-256": signed(body, "guess")},
        )
        good = await client.post(
            "/webhooks/changes/github",
            content=body,
            headers={**headers, "x-hub-signature-256": signed(body)},
        )
        redelivered = await client.post(
            "/webhooks/changes/github",
            content=body,
            headers={**headers, "x-hub-signature-256": signed(body)},
        )
        ping = await client.post(
            "/webhooks/changes/github",
            content=b"{}",
            headers={**headers, "x-github-event": "ping", "x-hub-signature-256": signed(b"{}")},
        )
        push = await client.post(
            "/webhooks/changes/github",
            content=b"{}",
            headers={**headers, "x-github-event": "push", "x-hub-signature-256": signed(b"{}")},
        )
        changes = await client.post(
            "/console/api/command", json={"text": "changes --since 90d", "user": "ann"}
        )
    assert (unsigned.status_code, forged.status_code) == (401, 401)
    assert good.status_code == 200, good.text
    assert good.json()["change"] == "github:Codertocat/Hello-World:deployment:145988746"
    assert redelivered.json()["outcome"] == "unchanged"
    assert ping.status_code == 200
    assert push.status_code == 202 and "not a change" in push.json()["reason"]
    # 2019 is older than any --since allows: the list answers, and says nothing is there
    assert "No changes recorded in the last 90d" in changes.json()["text"]


async def test_every_github_fixture_is_accepted_on_loopback(server: RunningServer) -> None:
    events = {
        "01_octokit_deployment_created.json": "deployment",
        "02_octokit_deployment_status_success.json": "deployment_status",
        "03_zulip_deployment_status_failure.json": "deployment_status",
        "04_octokit_workflow_run_completed_success.json": "workflow_run",
    }
    outcomes = []
    async with server.client() as client:
        for name, event in events.items():
            response = await client.post(
                "/webhooks/changes/github",
                json=fixture_json("github", name),
                headers={"x-github-event": event},
            )
            assert response.status_code == 200, (name, response.text)
            outcomes.append(response.json()["outcome"])
    # the deployment and its success status are one change, updated by the second delivery
    assert outcomes == ["created", "updated", "created", "created"]


async def test_an_argocd_notification_and_a_malformed_template(server: RunningServer) -> None:
    now = datetime.now(UTC)
    app = {
        "metadata": {"name": "checkout", "labels": {"environment": "prod"}},
        "status": {
            "operationState": {
                "phase": "Succeeded",
                "startedAt": (now - timedelta(minutes=3)).isoformat(),
                "finishedAt": now.isoformat(),
                "syncResult": {"revision": "0123456789abcdef"},
            }
        },
    }
    # The docs' commit-status template renders this when the phase is Terminating.
    broken = b'{\n , "description": "ArgoCD",\n "context": "continuous-delivery/x"\n}'
    async with server.client() as client:
        ok = await client.post("/webhooks/changes/argocd", json={"app": app})
        bad = await client.post(
            "/webhooks/changes/argocd",
            content=broken,
            headers={"content-type": "application/json"},
        )
        wrong = await client.post("/webhooks/changes/argocd", json={"attachments": []})
    assert ok.status_code == 200 and ok.json()["change"] == "argocd:checkout@0123456789abcdef"
    assert bad.status_code == 400
    assert wrong.status_code == 422 and "not an Argo CD notification" in wrong.json()["detail"]


async def test_an_oversized_change_body_is_refused(server: RunningServer) -> None:
    async with httpx.AsyncClient(base_url=server.url) as client:
        response = await client.post(
            "/webhooks/changes",
            content=b"{" + b" " * (1024 * 1024 + 10) + b"}",
            headers={"content-type": "application/json"},
        )
    assert response.status_code == 413
