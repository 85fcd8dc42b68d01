"""Every webhook delivery that got past the door is audited once: the sender, what it
carried and touched, or why it was refused. Refusals at the door are not."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from bot.settings import Settings
from storage.audit import AuditEntry
from tests.bot.test_change_webhooks import deploy
from tests.bot.test_webhook import storm_payload
from tests.conftest import RunningServer, free_port, start_server

TOKEN = "audit-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
async def guarded(tmp_path: Path) -> AsyncIterator[RunningServer]:
    settings = Settings(
        data_dir=tmp_path / "data",
        host="127.0.0.1",
        port=free_port(),
        webhook_token=SecretStr(TOKEN),
    )
    server, task, running = await start_server(settings)
    try:
        yield running
    finally:
        server.should_exit = True
        await task


async def deliveries(server: RunningServer) -> list[AuditEntry]:
    async with server.lookout.database.unit_of_work() as uow:
        return list(reversed(await uow.audit.recent(action="webhook")))


async def test_each_delivery_is_one_entry_with_sender_counts_and_incidents(
    guarded: RunningServer,
) -> None:
    async with guarded.client() as client:
        first = await client.post(
            "/webhooks/alertmanager", json=storm_payload(2, "checkout"), headers=AUTH
        )
        again = await client.post(
            "/webhooks/alertmanager", json=storm_payload(2, "checkout"), headers=AUTH
        )
        change = await client.post("/webhooks/changes", json=deploy(), headers=AUTH)
    assert first.status_code == again.status_code == change.status_code == 200
    alerts, repeat, changed = await deliveries(guarded)
    assert (alerts.platform, alerts.user_id, alerts.outcome) == ("webhook", "alertmanager", "ok")
    assert alerts.target == "INC-1" and alerts.project == "default"
    assert alerts.detail["source"] == "alertmanager" and alerts.detail["received"] == 2
    assert alerts.detail["new"] == 2 and alerts.detail["incidents"] == ["INC-1"]
    assert repeat.detail["received"] == 2 and repeat.detail["new"] == 0
    assert (changed.user_id, changed.outcome) == ("changes", "ok")
    assert changed.detail["change"] == deploy()["id"]


async def test_a_refused_delivery_says_why_and_the_door_writes_nothing(
    guarded: RunningServer,
) -> None:
    async with guarded.client() as client:
        bad = await client.post(
            "/webhooks/alertmanager", json={"version": "4", "alerts": "no"}, headers=AUTH
        )
        unsigned = await client.post("/webhooks/alertmanager", json=storm_payload(1))
        wrong = await client.post(
            "/webhooks/changes", json=deploy(), headers={"Authorization": "Bearer nope"}
        )
    assert bad.status_code == 422 and unsigned.status_code == wrong.status_code == 401
    [refused] = await deliveries(guarded)
    assert (refused.user_id, refused.outcome, refused.target) == ("alertmanager", "refused", None)
    assert refused.detail["status"] == 422
    assert refused.detail["reason"] == bad.json()["detail"]
    async with guarded.lookout.database.unit_of_work() as uow:
        assert await uow.incidents.find(status="all") == []
