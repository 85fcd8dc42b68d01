"""PagerDuty at the end of an incident, against a local fake of the Events API v2 over real
HTTP: `resolve` when the incident resolves (by hand or because its alerts did), and a signed
Webhooks v3 `incident.resolved` coming back to a running Lookout, which resolves the incident
and stops its escalation without telling PagerDuty what it already knows."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from bot.settings import Settings
from core.alerts import Alert, fingerprint
from skills.contract import Reply
from storage.database import Database
from tests.bot.background.paging_harness import Paging, paging
from tests.conftest import database_url_for, fixture_json, free_port, start_server
from tests.integrations.fake_receivers import FakeReceivers

PAGES_PAGERDUTY = """
escalation:
  policies:
    - {name: pd, levels: [{after: 0s, notify: ["pagerduty"]}]}
"""


def events(receivers: FakeReceivers, incident: int) -> list[str]:
    return [
        r.json["event_action"]
        for r in receivers.to("/v2/enqueue")
        if r.json["dedup_key"] == f"lookout/INC-{incident}"
    ]


async def clear(lookout: Paging, name: str, service: str) -> None:
    """The alert `fire` raised resolves."""
    tags = {"alertname": name, "service": service, "severity": "critical"}
    alert = Alert(
        fingerprint=fingerprint(tags),
        status="resolved",
        starts_at=lookout.clock.now,
        ends_at=lookout.clock.now,
        labels=tags,
        annotations={"summary": f"{name} on {service}"},
        generator_url="http://prometheus.internal/graph?g0.expr=up",
    )
    await lookout.ingestor.ingest([alert])


async def test_pagerduty_is_sent_resolve_when_the_incident_resolves(
    tmp_path: Path, receivers: FakeReceivers
) -> None:
    database = Database(database_url_for(tmp_path))
    await database.upgrade()
    lookout = await paging(database, PAGES_PAGERDUTY, pagerduty_url=receivers.events_url)
    await lookout.fire("Down", "api")
    await lookout.fire("DiskFull", "db")
    await lookout.step(seconds=1)
    assert events(receivers, 1) == events(receivers, 2) == ["trigger"]
    # INC-1: acknowledged, then resolved by hand.
    await lookout.say("ack INC-1")
    await lookout.step(seconds=1)
    await lookout.say("resolve INC-1 restarted the pods")
    await lookout.step(seconds=1)
    # INC-2: its alert resolves, and the incident with it.
    await clear(lookout, "DiskFull", "db")
    await lookout.step(seconds=1)
    for _ in range(3):
        await lookout.step(minutes=5)
    assert events(receivers, 1) == ["trigger", "acknowledge", "resolve"]
    assert events(receivers, 2) == ["trigger", "resolve"]
    resolves = [r.json for r in receivers.to("/v2/enqueue") if r.json["event_action"] == "resolve"]
    assert all(r["routing_key"] == "R" * 32 for r in resolves)
    assert all(set(r) == {"routing_key", "event_action", "dedup_key"} for r in resolves)
    timeline = "\n".join(await lookout.timeline(1) + await lookout.timeline(2))
    assert timeline.count("PagerDuty resolve: sent via PagerDuty") == 2
    await lookout.close()
    await database.dispose()


def sign(secret: str, body: bytes) -> str:
    return "v1=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


async def test_pagerduty_incident_resolved_webhook_resolves_the_incident(
    tmp_path: Path, receivers: FakeReceivers, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "whsec-3f8a1c"
    config = tmp_path / "lookout.yaml"
    config.write_text(PAGES_PAGERDUTY)
    settings = Settings(
        data_dir=tmp_path / "data",
        port=free_port(),
        config=config,
        pagerduty_routing_key=SecretStr("R" * 32),
        pagerduty_events_url=receivers.events_url,
        pagerduty_webhook_secret=SecretStr(secret),
    )
    server, task, running = await start_server(settings)
    lookout = running.lookout
    assert lookout.escalation is not None
    try:
        async with running.client() as client:
            alert = {
                "labels": {"alertname": "Down", "service": "api", "severity": "critical"},
                "startsAt": datetime.now(UTC).isoformat(),
            }
            answer = await client.post(
                "/webhooks/alertmanager",
                json={"version": "4", "status": "firing", "alerts": [alert]},
            )
            assert answer.status_code == 200
            for _ in range(100):
                await lookout.escalation.run_once()
                if receivers.to("/v2/enqueue"):
                    break
                await asyncio.sleep(0.05)
            assert events(receivers, 1) == ["trigger"]
            # An escalation pass (on any replica) may run the moment the command has resolved
            # the incident, before the webhook's answer is written.
            run = lookout.dispatcher.run

            async def then_a_pass(*args: Any, **kwargs: Any) -> Reply:
                reply = await run(*args, **kwargs)
                assert lookout.escalation is not None
                await lookout.escalation.run_once()
                return reply

            monkeypatch.setattr(lookout.dispatcher, "run", then_a_pass)
            # The responder resolves it in PagerDuty; PagerDuty's webhook comes back.
            document = fixture_json("pagerduty", "06_zulip_webhook_v3_incident_resolved.json")
            document["event"]["data"]["title"] = "INC-1 · api: Down (critical)"
            body = json.dumps(document).encode()
            forged = await client.post(
                "/webhooks/pagerduty",
                content=body,
                headers={"X-PagerDuty-Signature": sign("not-the-secret", body)},
            )
            assert forged.status_code == 403
            genuine = await client.post(
                "/webhooks/pagerduty",
                content=body,
                headers={"X-PagerDuty-Signature": sign(secret, body)},
            )
            assert genuine.status_code == 200, genuine.text
            assert genuine.json()["status"] == "accepted"
            again = await client.post(
                "/webhooks/pagerduty",
                content=body,
                headers={"X-PagerDuty-Signature": sign(secret, body)},
            )
            assert again.json()["status"] == "unchanged"
        for _ in range(3):
            await lookout.escalation.run_once()
        async with lookout.database.unit_of_work() as uow:
            incident = await uow.incidents.get(incident_id=1)
            assert incident is not None
            assert incident.status == "resolved"
            agent = document["event"]["agent"]["summary"]
            assert incident.resolved_by == f"{agent} (PagerDuty)"
            escalation = await uow.escalations.of_episode(incident_id=1, episode=1)
            assert escalation is not None
            assert (escalation.status, escalation.pagerduty) == ("resolved", "resolved")
            texts = [event.text for event in await uow.incidents.events(incident_id=1)]
        assert any(t.startswith("Escalation stopped at level 1: resolved by") for t in texts)
        assert events(receivers, 1) == ["trigger"]  # PagerDuty is not told what it said
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=10)
