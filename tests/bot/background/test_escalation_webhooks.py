"""Outbound webhooks (`webhook:ops`) that fail, against a local receiver over real HTTP: a 5xx
and a 429 with Retry-After are retried with backoff under one delivery id, the next level is
notified meanwhile, and a receiver that never recovers is given up after `retry.attempts`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from integrations.outbound_webhooks import signature_valid
from storage.database import Database
from tests.bot.background.paging_harness import T0, paging
from tests.conftest import database_url_for
from tests.integrations.fake_receivers import FakeReceivers, Received

HOOK_THEN_DANA = """
escalation:
  retry: {base_seconds: 10, max_seconds: 120, failover_after: 2, attempts: 4}
  policies:
    - name: hooks
      levels:
        - {after: 0s, notify: ["webhook:ops"]}
        - {after: 30m, notify: ["user:dana"]}
notify:
  people: {dana: {name: Dana, slack: U0DANA1}}
  webhooks:
    ops: {url: "%(hook)s", secret: "s3cret"}
"""


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[Database]:
    db = Database(database_url_for(tmp_path))
    await db.upgrade()
    yield db
    await db.dispose()


def attempts(receivers: FakeReceivers) -> list[Received]:
    return receivers.to("/hooks/ops", accepted=False)


def sent_at(request: Received) -> timedelta:
    """When Lookout sent it, from the start of the incident (the body says, by its clock)."""
    return datetime.fromisoformat(request.json["sent_at"]) - T0


async def test_a_5xx_then_a_429_are_retried_under_one_delivery_id_and_the_next_level_goes(
    database: Database, receivers: FakeReceivers
) -> None:
    lookout = await paging(database, HOOK_THEN_DANA % {"hook": receivers.hook_url("ops")})
    receivers.fail_next(503, on="/hooks")
    receivers.fail_next(429, retry_after="45", on="/hooks")
    await lookout.fire("Down", "api")
    await lookout.step(seconds=1)
    assert [r.status for r in attempts(receivers)] == [503]
    await lookout.step(seconds=9)  # the first wait is 10 s
    assert len(attempts(receivers)) == 1
    await lookout.step(seconds=1)
    assert [r.status for r in attempts(receivers)] == [503, 429]
    # Two failures: Dana (level 2) is paged now, not at 30 minutes.
    assert [call[1] for call in lookout.chat.of("dm")] == ["U0DANA1"]
    # The receiver asked for 45 s, longer than Lookout's own 20: it gets them.
    (page,) = await lookout.pages(channel="webhook")
    assert page.next_attempt_at - lookout.clock.now == timedelta(seconds=45)
    await lookout.step(seconds=44)
    assert len(attempts(receivers)) == 2
    await lookout.step(seconds=1)
    assert [r.status for r in attempts(receivers)] == [503, 429, 200]
    assert [sent_at(r) for r in attempts(receivers)] == [
        timedelta(seconds=1),
        timedelta(seconds=11),
        timedelta(seconds=56),
    ]
    deliveries = {r.headers["x-lookout-delivery"] for r in attempts(receivers)}
    assert len(deliveries) == 1 and deliveries.pop().startswith("e1:f1:l0:webhook:webhook:ops")
    assert len({r.json["delivery"] for r in attempts(receivers)}) == 1
    for request in attempts(receivers):
        signature = request.headers["x-lookout-signature"]
        assert signature_valid("s3cret", request.body, signature, now=T0 + sent_at(request))
    (page,) = await lookout.pages(channel="webhook")
    assert (page.status, page.attempts) == ("sent", 2)
    timeline = "\n".join(await lookout.timeline())
    assert "Page to webhook:ops (level 1) via webhook ops failed (attempt 1)" in timeline
    assert "HTTP 503" in timeline and "HTTP 429" in timeline
    assert "notifying the next level now" in timeline
    assert "Page to webhook:ops (level 1): sent via webhook ops after 3 attempts" in timeline
    await lookout.close()


async def test_a_receiver_that_never_recovers_is_given_up_after_the_attempts_allowed(
    database: Database, receivers: FakeReceivers
) -> None:
    config = """
escalation:
  retry: {base_seconds: 10, max_seconds: 30, failover_after: 2, attempts: 4}
  policies:
    - {name: hooks, levels: [{after: 0s, notify: ["webhook:ops"]}]}
notify:
  webhooks:
    ops: {url: "%(hook)s", secret: "s3cret"}
"""
    lookout = await paging(database, config % {"hook": receivers.hook_url("ops")})
    receivers.fail_next(502, times=50, on="/hooks")
    await lookout.fire("Down", "api")
    await lookout.step(seconds=1)
    for _ in range(24):  # two minutes, every five seconds
        await lookout.step(seconds=5)
    # Four attempts, 10 s, 20 s and 30 s apart (the waits double up to max_seconds).
    assert [sent_at(r).total_seconds() for r in attempts(receivers)] == [1, 11, 31, 61]
    for _ in range(24 * 6):  # then a day, every ten minutes: nothing more is tried
        await lookout.step(minutes=10)
    assert len(attempts(receivers)) == 4
    assert len({r.headers["x-lookout-delivery"] for r in attempts(receivers)}) == 1
    (page,) = await lookout.pages(channel="webhook")
    assert (page.status, page.attempts) == ("failed", 4)
    timeline = "\n".join(await lookout.timeline())
    assert "failed (attempt 4): webhook ops answered HTTP 502" in timeline
    assert timeline.count("— no more retries") == 1
    # With no level left, the incident's thread is told someone must take it.
    notices = [text for kind, _, text in lookout.chat.calls if kind in ("post", "thread")]
    assert any("Could not page webhook:ops for INC-1" in text for text in notices)
    assert any("No escalation level is left" in text for text in notices)
    await lookout.close()
