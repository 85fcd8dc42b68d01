"""Paging channels against real servers on loopback: PagerDuty's signature vector and
webhook bodies, the PagerDuty webhook route of a running Lookout (genuine and forged),
email through a local aiosmtpd server, snooze silences in a real Alertmanager, and on-call
schedules from rotations and iCalendar feeds."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from pydantic import SecretStr

from bot.settings import Settings
from core.oncall import OncallConfig, on_call
from integrations.email import EmailSender, SmtpSettings
from integrations.oncall import OncallDirectory
from integrations.oncall_calendar import calendar_shifts
from integrations.pagerduty import SignatureError, parse_webhook, verify_signature
from storage.database import Database
from tests.bot.background.paging_harness import Clock, paging
from tests.conftest import database_url_for, fixture_json, free_port, start_server
from tests.integrations.alertmanager_process import ALERTMANAGER, SKIP_REASON, running_alertmanager

VECTOR = "pagerduty", "07_webhook_v3_signature_test_vector.json"


def test_the_published_signature_vector_verifies_and_a_forgery_does_not() -> None:
    vector = fixture_json(*VECTOR)
    body = vector["body"].encode()
    verify_signature([vector["secret"]], body, vector["valid_header"]["X-PagerDuty-Signature"])
    # Several signatures (a secret being rotated): any one matching is enough.
    rotated = "v1=" + "0" * 64 + "," + vector["valid_header"]["X-PagerDuty-Signature"]
    verify_signature([vector["secret"]], body, rotated)
    with pytest.raises(SignatureError) as forged:
        verify_signature(
            [vector["secret"]], body, vector["mismatch_header"]["X-PagerDuty-Signature"]
        )
    assert not forged.value.missing
    with pytest.raises(SignatureError) as missing:
        verify_signature([vector["secret"]], body, "sha256=abc")
    assert missing.value.missing
    event = parse_webhook(json.loads(body))
    assert event.event_type == "incident.priority_updated" and event.incident_id is None


def test_real_webhook_captures_parse() -> None:
    acked = parse_webhook(
        fixture_json("pagerduty", "05_zulip_webhook_v3_incident_acknowledged.json")
    )
    assert (acked.event_type, acked.agent, acked.incident_id) == (
        "incident.acknowledged",
        "PIG 208",
        None,  # "Test Incident" names no Lookout incident
    )
    resolved = fixture_json("pagerduty", "06_zulip_webhook_v3_incident_resolved.json")
    resolved["event"]["data"]["title"] = "INC-7 · checkout: HighErrorRate (critical)"
    assert parse_webhook(resolved).incident_id == 7


def sign(secret: str, body: bytes) -> str:
    return "v1=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@pytest.mark.parametrize("in_a_project", [False, True])
async def test_pagerduty_acknowledges_through_its_webhook_and_forgeries_are_refused(
    tmp_path: Path, in_a_project: bool
) -> None:
    """Also when the incident's project has no member PagerDuty would be: its signed
    webhook acts in the incident's project."""
    secret = fixture_json(*VECTOR)["secret"]
    config = tmp_path / "lookout.yaml"
    config.write_text(
        "escalation:\n  policies:\n    - {name: p, levels: [{after: 0s, notify: [pagerduty]}]}\n"
        + (
            "projects:\n  - {name: platform, services: [api], members: {U0PLAT: responder}}\n"
            if in_a_project
            else ""
        )
    )
    settings = Settings(
        data_dir=tmp_path / "data",
        port=free_port(),
        config=config,
        pagerduty_webhook_secret=SecretStr(secret),
    )
    server, task, running = await start_server(settings)
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
            document = fixture_json("pagerduty", "05_zulip_webhook_v3_incident_acknowledged.json")
            document["event"]["data"]["title"] = "INC-1 · api: Down (critical)"
            body = json.dumps(document).encode()
            forged = await client.post(
                "/webhooks/pagerduty",
                content=body,
                headers={"X-PagerDuty-Signature": sign("not-the-secret", body)},
            )
            assert forged.status_code == 403
            unsigned = await client.post("/webhooks/pagerduty", content=body)
            assert unsigned.status_code == 401
            vector = fixture_json(*VECTOR)
            other = await client.post(
                "/webhooks/pagerduty",
                content=vector["body"].encode(),
                headers=vector["valid_header"],
            )
            assert other.status_code == 202 and other.json()["status"] == "ignored"
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
            assert again.json()["status"] == "unchanged"  # a redelivery changes nothing
        async with running.lookout.database.unit_of_work() as uow:
            incident = await uow.incidents.get(incident_id=1)
            assert incident is not None
            assert incident.status == "acknowledged"
            assert incident.acknowledged_by == "PIG 208 (PagerDuty)"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=10)


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted for delivery"


async def test_email_pages_reach_a_real_smtp_server(tmp_path: Path) -> None:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        url = f"smtp://127.0.0.1:{port}?from=lookout@example.com&starttls=off"
        sender = EmailSender(SmtpSettings.from_url(url))
        message_id = await sender.send(
            to="dana@example.com",
            subject="[Lookout] Page: INC-1",
            text="plain words",
            html_body="<p>rich &amp; words</p>",
        )
        assert message_id.startswith("<")
        database = Database(database_url_for(tmp_path))
        await database.upgrade()
        config = """
escalation:
  policies:
    - {name: mail, levels: [{after: 0s, notify: ["email:oncall@example.com", "user:lee"]}]}
notify:
  people: {lee: {email: lee@example.com}}
"""
        lookout = await paging(database, config, smtp_url=url, clock=Clock())
        await lookout.fire("Down", "api")
        await lookout.step(seconds=1)
        await lookout.close()
        await database.dispose()
    finally:
        controller.stop()
    first = message_from_bytes(inbox.messages[0][2], policy=policy.default)
    assert first["Subject"] == "[Lookout] Page: INC-1"
    recipients = sorted(rcpt for _, tos, _ in inbox.messages[1:] for rcpt in tos)
    assert recipients == ["lee@example.com", "oncall@example.com"]
    page = message_from_bytes(inbox.messages[1][2], policy=policy.default)
    assert page["Subject"].startswith("[Lookout] Page: INC-1 · api: Down")
    parts = {part.get_content_type(): part for part in page.walk()}
    assert "text/plain" in parts and "text/html" in parts
    assert "ack INC-1" in str(parts["text/plain"].get_content())
    assert "<h2>" in str(parts["text/html"].get_content())


@pytest.mark.skipif(ALERTMANAGER is None, reason=SKIP_REASON)
async def test_snooze_creates_an_alertmanager_silence_that_ends_with_it(tmp_path: Path) -> None:
    am_config = "route: {receiver: none}\nreceivers:\n  - name: none\n"
    with running_alertmanager(tmp_path, am_config) as url:
        database = Database(database_url_for(tmp_path))
        await database.upgrade()
        config = """
escalation:
  policies:
    - {name: p, levels: [{after: 0s, notify: ["user:U0DANA1"]}]}
"""
        clock = Clock(datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=10))
        lookout = await paging(database, config, alertmanager_url=url, clock=clock)
        await lookout.fire("Down", "api", cluster="eu-1")
        await lookout.step(seconds=1)
        answer = await lookout.say("snooze INC-1 2h")
        assert "Alertmanager silences 1 of its alerts" in answer.plain_text
        async with httpx.AsyncClient() as client:
            silences = (await client.get(f"{url}/api/v2/silences")).json()
        (silence,) = silences
        assert silence["status"]["state"] == "active"
        matchers = {m["name"]: m["value"] for m in silence["matchers"]}
        assert matchers == {
            "alertname": "Down",
            "cluster": "eu-1",
            "service": "api",
            "severity": "critical",
        }
        ends = datetime.fromisoformat(silence["endsAt"].replace("Z", "+00:00"))
        assert abs((ends - (clock.now + timedelta(hours=2))).total_seconds()) < 2
        assert "INC-1 snoozed by Ana" in silence["comment"]
        woken = await lookout.say("snooze INC-1 off")
        assert "no longer snoozed" in woken.plain_text
        async with httpx.AsyncClient() as client:
            silences = (await client.get(f"{url}/api/v2/silences")).json()
        assert silences[0]["status"]["state"] == "expired"
        await lookout.close()
        await database.dispose()


ICS = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//Grafana Labs//Grafana On-Call//
BEGIN:VEVENT
UID:shift-1
SUMMARY:dana
DTSTART:20261123T080000Z
DTEND:20261124T080000Z
RRULE:FREQ=DAILY;INTERVAL=2
END:VEVENT
BEGIN:VEVENT
UID:shift-2
SUMMARY:On Call - Lee Park - Primary
ATTENDEE;CN=Lee Park:mailto:lee@example.com
DTSTART:20261124T080000Z
DTEND:20261125T080000Z
RRULE:FREQ=DAILY;INTERVAL=2
END:VEVENT
END:VCALENDAR
"""


async def test_on_call_from_a_rotation_with_overrides_and_from_a_calendar(tmp_path: Path) -> None:
    config = OncallConfig.model_validate(
        {
            "schedules": {
                "payments": {
                    "timezone": "Europe/Berlin",
                    "rotation": {
                        "users": ["dana", "lee", "sam"],
                        "shift": "1w",
                        "handoff": "mon 09:00",
                        "start": "2026-01-05",
                    },
                    "overrides": [
                        {"user": "sam", "start": "2026-11-25 18:00", "end": "2026-11-26 09:00"}
                    ],
                },
                "database": {"calendar": "db.ics"},
            }
        }
    )
    (tmp_path / "db.ics").write_text(ICS)
    async with httpx.AsyncClient() as http:
        directory = OncallDirectory(config, http=http, base=tmp_path)
        # Week 47 of 2026 from 2026-01-05: 46 weeks in, 46 % 3 = 1 → lee.
        monday = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
        now = await directory.who("payments", monday)
        assert now.now is not None and now.now.user == "lee"
        assert now.now.end == datetime(2026, 11, 25, 17, 0, tzinfo=UTC)  # the override cuts in
        assert now.next is not None and now.next.user == "sam"
        # The hand-off stays at 09:00 local time across the end of daylight saving time.
        spring = await directory.who("payments", datetime(2026, 3, 30, 7, 30, tzinfo=UTC))
        assert spring.now is not None and spring.now.start.astimezone(UTC).hour == 7  # 09:00 CEST
        calendar = await directory.who("database", datetime(2026, 11, 26, 9, 0, tzinfo=UTC))
        assert calendar.now is not None and calendar.now.user == "lee@example.com"
        assert calendar.next is not None and calendar.next.user == "dana"
    shifts = calendar_shifts(
        ICS,
        since=datetime(2026, 11, 23, tzinfo=UTC),
        until=datetime(2026, 11, 29, tzinfo=UTC),
    )
    assert [s.user for s in shifts] == ["dana", "lee@example.com"] * 3
    assert on_call("x", shifts, datetime(2026, 12, 30, tzinfo=UTC)).now is None
