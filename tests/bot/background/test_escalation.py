"""Escalation on a real database with a clock the test moves: levels climb until someone
acknowledges, survive a restart, fire once with two replicas, fail over, fold and route."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from core.incidents import IncidentStatus
from integrations.outbound_webhooks import signature_valid
from skills.views.incident_card import card_facts, incident_message
from skills.views.incident_paging import paging_facts
from storage.database import Database
from tests.bot.background.paging_harness import Clock, paging
from tests.conftest import database_url_for
from tests.integrations.fake_receivers import FakeReceivers

THREE_LEVELS = """
escalation:
  retry: {base_seconds: 10, failover_after: 2, attempts: 4}
  policies:
    - name: default
      match: {severity: critical}
      levels:
        - {after: 0s, notify: ["user:dana"]}
        - {after: 5m, notify: ["pagerduty"]}
        - {after: 10m, notify: ["webhook:ops"]}
notify:
  people:
    dana: {name: Dana, slack: U0DANA1}
  webhooks:
    ops: {url: "%(hook)s", secret: "s3cret"}
sla:
  targets:
    - {severity: critical, mtta: 4m, mttr: 1h}
"""


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[Database]:
    db = Database(database_url_for(tmp_path))
    await db.upgrade()
    yield db
    await db.dispose()


def three_levels(receivers: FakeReceivers) -> str:
    return THREE_LEVELS % {"hook": receivers.hook_url("ops")}


async def card_text(database: Database, now: datetime, sla_config: str) -> str:
    from tests.bot.background.paging_harness import config_of

    async with database.unit_of_work() as uow:
        incident = await uow.incidents.get(incident_id=1)
        assert incident is not None
        facts = await card_facts(uow.alerts, [1])
        paging_lines = await paging_facts(
            uow.escalations, [incident], config_of(sla_config).sla, now
        )
        return incident_message(incident, facts[1], now, paging_lines.get(1)).plain_text


async def test_three_levels_stopped_by_an_ack_midway(
    database: Database, receivers: FakeReceivers
) -> None:
    config = three_levels(receivers)
    lookout = await paging(database, config, pagerduty_url=receivers.events_url)
    await lookout.fire("HighErrorRate", "checkout")
    await lookout.step(seconds=1)
    # Level 1: Dana, by direct message at once.
    assert [call[1] for call in lookout.chat.of("dm")] == ["U0DANA1"]
    assert "Escalation level 1 of 3" in lookout.chat.of("dm")[0][2]
    card = await card_text(database, lookout.clock.now, config)
    assert "Level 1 of 3 (default): paging Dana" in card
    assert "ack due by 03:04 UTC (target 4m)" in card
    await lookout.step(minutes=4, seconds=58)
    assert receivers.to("/v2/enqueue") == []  # level 2 is not due yet
    await lookout.step(seconds=2)
    (trigger,) = receivers.to("/v2/enqueue")
    event = trigger.json
    assert event["event_action"] == "trigger" and event["dedup_key"] == "lookout/INC-1"
    assert event["payload"]["severity"] == "critical"
    assert event["payload"]["summary"].startswith("INC-1 · ")
    assert event["links"][0]["href"].startswith("http://prometheus.internal/")
    # SLA: 4 minutes to acknowledge have passed: a breach, with its reason.
    timeline = await lookout.timeline()
    assert any("SLA breach (time to acknowledge" in t and "paged Dana" in t for t in timeline)
    # Ana acknowledges between level 2 and level 3.
    await lookout.step(minutes=1)
    answer = await lookout.say("ack INC-1")
    assert "acknowledged" in answer.plain_text
    await lookout.step(seconds=1)
    await lookout.step(minutes=10)
    assert receivers.to("/hooks/ops") == []  # level 3 never fires
    actions = [r.json["event_action"] for r in receivers.to("/v2/enqueue")]
    assert actions == ["trigger", "acknowledge"]  # PagerDuty learns of the ack
    timeline = await lookout.timeline()
    assert any(t.startswith("Level 1 of 3 (policy default): paging Dana") for t in timeline)
    assert any(t.startswith("Level 2 of 3 (policy default): paging PagerDuty") for t in timeline)
    assert any("Page to Dana (level 1): sent via Slack direct message" in t for t in timeline)
    assert any(t.startswith("Escalation stopped at level 2: acknowledged by Ana") for t in timeline)
    card = await card_text(database, lookout.clock.now, config)
    assert "Escalation stopped at level 2 of 3: acknowledged by Ana" in card
    assert "resolve due by 04:00 UTC (target 1h)" in card
    async with database.unit_of_work() as uow:
        breaches = await uow.escalations.breaches_of(incident_ids=[1])
    assert [(b.clock, b.target) for b in breaches] == [("mtta", "critical")]
    await lookout.close()


async def test_a_restart_between_levels_still_fires_the_next_level_once(
    tmp_path: Path, receivers: FakeReceivers
) -> None:
    config = three_levels(receivers)
    url = database_url_for(tmp_path)
    first_db = Database(url)
    await first_db.upgrade()
    clock = Clock()
    first = await paging(first_db, config, clock=clock, pagerduty_url=receivers.events_url)
    await first.fire("HighErrorRate", "checkout")
    await first.step(seconds=1)
    await first.close()
    await first_db.dispose()  # the process is gone; its timers were never in memory
    clock.advance(minutes=6)
    second_db = Database(url)
    second = await paging(second_db, config, clock=clock, pagerduty_url=receivers.events_url)
    await second.step(seconds=0)
    await second.step(seconds=1)
    assert len(receivers.to("/v2/enqueue")) == 1
    assert len(await second.pages(level=2)) == 1
    assert len(await second.pages(level=1)) == 1
    await second.close()
    await second_db.dispose()


async def test_two_replicas_on_postgres_fire_each_level_once(
    postgres_url: str, receivers: FakeReceivers
) -> None:
    config = three_levels(receivers)
    setup = Database(postgres_url)
    await setup.upgrade()
    clock = Clock()
    replicas = [
        await paging(
            Database(postgres_url), config, clock=clock, pagerduty_url=receivers.events_url
        )
        for _ in range(2)
    ]
    await replicas[0].fire("HighErrorRate", "checkout")
    for minutes in (0, 5, 10, 10, 15):
        clock.now = datetime(2026, 11, 23, 3, minutes, 1, tzinfo=UTC)
        # Both replicas pass at the same moment, several times over.
        await asyncio.gather(*(r.engine.run_once() for r in replicas for _ in range(3)))
    pages = await replicas[0].pages(action="trigger")
    assert len(await replicas[0].pages(action="breach")) == 1  # the SLA breach, once
    assert sorted((p.level, p.channel) for p in pages) == [
        (1, "chat"),
        (2, "pagerduty"),
        (3, "webhook"),
    ]
    assert all(p.status == "sent" for p in pages)
    dms = [call for r in replicas for call in r.chat.of("dm")]
    assert len(dms) == 2  # the page, and the breach notice to the level reached
    assert len(receivers.to("/v2/enqueue")) == 1
    (hook,) = receivers.to("/hooks/ops")
    assert hook.json["escalation"]["level"] == 3
    for replica in replicas:
        await replica.close()
        await replica.database.dispose()
    await setup.dispose()


FAILOVER = """
escalation:
  retry: {base_seconds: 10, max_seconds: 120, failover_after: 2, attempts: 5}
  policies:
    - name: default
      levels:
        - {after: 0s, notify: ["pagerduty"]}
        - {after: 15m, notify: ["webhook:ops"]}
notify:
  webhooks:
    ops: {url: "%(hook)s", secret: "s3cret"}
"""


async def test_a_failing_channel_is_retried_and_the_next_level_notified_sooner(
    database: Database, receivers: FakeReceivers
) -> None:
    config = FAILOVER % {"hook": receivers.hook_url("ops")}
    lookout = await paging(database, config, pagerduty_url=receivers.events_url)
    receivers.fail_next(503, times=2)
    receivers.fail_next(429, retry_after="30")
    await lookout.fire("DiskFull", "db")
    await lookout.step(seconds=1)
    assert [r.status for r in receivers.to("/v2/enqueue", accepted=False)] == [503]
    assert receivers.to("/hooks/ops") == []
    await lookout.step(seconds=10)  # the second failure: the next level goes now, not at 15m
    (hook,) = receivers.to("/hooks/ops")
    sent_at = datetime.fromisoformat(hook.json["sent_at"])
    assert (sent_at - datetime(2026, 11, 23, 3, 0, tzinfo=UTC)).total_seconds() < 60
    assert signature_valid("s3cret", hook.body, hook.headers["x-lookout-signature"], now=sent_at)
    assert hook.headers["x-lookout-delivery"].startswith("e1:f2:l1:webhook")
    await lookout.step(seconds=20)  # 429 with Retry-After: 30
    assert [r.status for r in receivers.to("/v2/enqueue", accepted=False)] == [503, 503, 429]
    (page,) = await lookout.pages(channel="pagerduty")
    assert (page.next_attempt_at - lookout.clock.now).total_seconds() >= 30
    await lookout.step(seconds=29)
    assert len(receivers.to("/v2/enqueue", accepted=False)) == 3  # still waiting it out
    await lookout.step(seconds=15)
    assert [r.status for r in receivers.to("/v2/enqueue", accepted=False)][-1] == 202
    (page,) = await lookout.pages(channel="pagerduty")
    assert page.status == "sent" and page.attempts == 3
    timeline = "\n".join(await lookout.timeline())
    assert "notifying the next level now" in timeline
    assert "sent via PagerDuty after 4 attempts" in timeline
    await lookout.close()


async def test_a_page_refused_for_good_with_no_level_left_is_said_in_the_thread(
    database: Database, receivers: FakeReceivers
) -> None:
    config = """
escalation:
  policies:
    - {name: only, levels: [{after: 0s, notify: ["pagerduty"]}]}
"""
    lookout = await paging(database, config, pagerduty_url=receivers.events_url)
    receivers.fail_next(400)
    await lookout.fire("DiskFull", "db")
    await lookout.step(seconds=1)
    await lookout.step(seconds=1)
    (page,) = await lookout.pages(channel="pagerduty")
    assert page.status == "failed" and page.attempts == 1  # a 400 is never retried
    notices = [c for c in lookout.chat.calls if c[0] in ("post", "thread")]
    assert any("Could not page pagerduty" in text for _, _, text in notices)
    await lookout.close()


ROUTING = """
escalation:
  business_hours: {days: mon-fri, start: "09:00", end: "17:00", timezone: Europe/Berlin}
  policies:
    - {name: everyone, levels: [{after: 0s, notify: ["user:dana"]}]}
notify:
  people: {dana: {slack: U0DANA1}}
"""


async def test_routing_by_severity_and_business_hours(database: Database) -> None:
    saturday = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    lookout = await paging(database, ROUTING, clock=Clock(saturday))
    await lookout.fire("SlowQueries", "db", severity="warning")
    await lookout.fire("Deployed", "web", severity="info")
    await lookout.fire("Down", "api", severity="critical")
    await lookout.step(seconds=1)
    # Critical pages at once, even on a Saturday; the warning waits; info only posts.
    assert [call[2].split("**")[0] for call in lookout.chat.of("dm")] == ["🔴 "]
    assert len(await lookout.pages(incident=1)) == 0
    assert len(await lookout.pages(incident=2)) == 0
    timeline = "\n".join(await lookout.timeline(1) + await lookout.timeline(2))
    assert "warning outside business hours" in timeline and "Mon 09:00" in timeline
    assert "info incidents only post" in timeline
    # Monday 08:00 UTC is 09:00 in Berlin: the warning nobody took pages now.
    lookout.clock.now = datetime(2026, 11, 30, 7, 59, tzinfo=UTC)
    await lookout.step(seconds=0)
    assert len(await lookout.pages(incident=1)) == 0
    await lookout.step(minutes=1, seconds=1)
    assert len(await lookout.pages(incident=1)) == 1
    assert len(await lookout.pages(incident=2)) == 0
    # A warning during business hours pages at once.
    await lookout.fire("SlowQueries", "cache", severity="warning")
    await lookout.step(seconds=1)
    assert len(await lookout.pages(incident=4)) == 1
    await lookout.close()


RATE_LIMITED = """
escalation:
  rate_limit: {per_hour: 2}
  policies:
    - {name: everyone, levels: [{after: 0s, notify: ["user:dana"]}]}
notify:
  people: {dana: {slack: U0DANA1}}
"""


async def test_at_most_n_pages_per_hour_per_kind_the_rest_folded(database: Database) -> None:
    lookout = await paging(database, RATE_LIMITED)
    for cluster in ("eu-1", "eu-2", "us-1"):
        await lookout.fire("HighErrorRate", "checkout", cluster=cluster)
        await lookout.step(seconds=1)
    assert len(lookout.chat.of("dm")) == 2
    (folded,) = await lookout.pages(incident=3)
    assert folded.action == "fold" and folded.status == "sent"
    # The second page's message now names the third incident too.
    (update,) = lookout.chat.of("update")
    assert "Also INC-3" in update[2] and "INC-2" in update[2]
    timeline = "\n".join(await lookout.timeline(3))
    assert "folded" in timeline and "limit 2/h" in timeline
    # Another kind of incident pages as usual; an hour later the kind pages again.
    await lookout.fire("DiskFull", "db")
    await lookout.step(seconds=1)
    assert len(lookout.chat.of("dm")) == 3
    await lookout.step(minutes=61)
    await lookout.fire("HighErrorRate", "checkout", cluster="ap-1")
    await lookout.step(seconds=1)
    assert len(lookout.chat.of("dm")) == 4
    await lookout.close()


async def test_a_reopened_incident_escalates_again_and_snooze_holds_paging(
    database: Database,
) -> None:
    config = """
escalation:
  policies:
    - name: default
      levels:
        - {after: 0s, notify: ["user:dana"]}
        - {after: 10m, notify: ["user:lee"]}
notify:
  people: {dana: {slack: U0DANA1}, lee: {slack: U0LEE11}}
"""
    lookout = await paging(database, config)
    await lookout.fire("Down", "api")
    await lookout.step(seconds=1)
    assert len(lookout.chat.of("dm")) == 1
    answer = await lookout.say("snooze INC-1 30m")
    assert "snoozed until 03:30 UTC" in answer.plain_text
    await lookout.step(minutes=15)  # level 2 would be due: the snooze holds it
    assert len(lookout.chat.of("dm")) == 1
    await lookout.step(minutes=15)  # the snooze ends: the level reached pages again
    assert [call[1] for call in lookout.chat.of("dm")] == ["U0DANA1", "U0DANA1"]
    await lookout.step(minutes=10)
    assert [call[1] for call in lookout.chat.of("dm")][-1] == "U0LEE11"
    # Resolved, then the alert fires again within the grace: episode 2 escalates anew.
    await lookout.say("resolve INC-1 restarted")
    await lookout.step(seconds=1)
    await lookout.fire("Down", "api")
    async with database.unit_of_work() as uow:
        incident = await uow.incidents.get(incident_id=1)
        assert incident is not None and incident.episode == 2
        assert incident.status == IncidentStatus.TRIGGERED
    await lookout.step(seconds=1)
    assert len(await lookout.pages(episode=2)) == 1
    assert [call[1] for call in lookout.chat.of("dm")][-1] == "U0DANA1"
    await lookout.close()
