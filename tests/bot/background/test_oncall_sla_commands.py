"""`oncall` and `sla` typed as in chat, on a real database with a clock the test moves."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from skills.contract import Reply, Table
from storage.database import Database, sqlite_url
from tests.bot.background.paging_harness import Clock, paging

ROTATIONS = """
oncall:
  schedules:
    payments:
      timezone: Europe/Berlin
      rotation: {users: [dana, lee, sam], shift: 1w, handoff: "mon 09:00", start: "2026-01-05"}
      overrides:
        - {user: sam, start: "2026-11-25 18:00", end: "2026-11-26 09:00"}
    database:
      timezone: UTC
      rotation: {users: [ola], shift: 1d, handoff: "09:00", start: "2026-11-01"}
escalation:
  policies:
    - name: default
      match: {severity: critical}
      levels:
        - {after: 0s, notify: ["oncall:payments"]}
        - {after: 10m, notify: ["user:dana"]}
notify:
  people:
    dana: {name: Dana, slack: U0DANA1}
    sam: {name: Sam, slack: U0SAM01}
sla:
  targets:
    - {severity: critical, mtta: 5m, mttr: 1h}
"""


def everything(reply: Reply) -> str:
    """The answer's text with its tables' cells, one row per line."""
    rows = [
        " | ".join(row) for block in reply.blocks if isinstance(block, Table) for row in block.rows
    ]
    return reply.plain_text + "\n" + "\n".join(rows)


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[Database]:
    db = Database(sqlite_url(tmp_path))
    await db.upgrade()
    yield db
    await db.dispose()


async def test_oncall_names_who_is_on_call_now_until_when_and_next(database: Database) -> None:
    world = await paging(database, ROTATIONS)
    try:
        # Monday 2026-11-23 03:00 UTC is 04:00 in Berlin, before the 09:00 hand-off: the
        # shift that began on 2026-11-16 (week 45 from the start, 45 % 3 = 0) is dana's.
        text = everything(await world.say("oncall payments"))
        assert "dana" in text and "lee from Mon 23 Nov 09:00" in text
        assert "Europe/Berlin" in text
        listing = everything(await world.say("oncall"))
        assert "payments" in listing and "database" in listing and "ola" in listing
        # The override cuts into lee's week: on Wednesday evening sam is on call.
        world.clock.advance(days=2, hours=17)
        override = everything(await world.say("oncall payments"))
        assert "sam" in override and "(override)" in override
        # A level that pages `oncall:payments` pages whoever is on call at that moment.
        await world.fire("CheckoutDown", "checkout")
        await world.step(seconds=1)
        timeline = await world.timeline()
        assert any("Level 1 of 2 (policy default): paging Sam" in t for t in timeline), timeline
        assert [call[1] for call in world.chat.of("dm")] == ["U0SAM01"]
        unknown = everything(await world.say("oncall paymnets"))
        assert "paymnets" in unknown and "Traceback" not in unknown
    finally:
        await world.close()


async def test_oncall_without_schedules_says_how_to_add_them(database: Database) -> None:
    world = await paging(database, "escalation: {policies: []}")
    try:
        text = everything(await world.say("oncall"))
        assert "No on-call schedules are configured" in text and "oncall.schedules" in text
    finally:
        await world.close()


async def test_sla_counts_episodes_met_and_breached_and_names_the_breach(
    database: Database,
) -> None:
    world = await paging(database, ROTATIONS, clock=Clock())
    try:
        await world.fire("CheckoutDown", "checkout")  # INC-1: acked after 2 min, in time
        await world.step(minutes=2)
        await world.say("ack INC-1")
        await world.fire("PaymentsDown", "payments")  # INC-2: nobody acks for 7 min
        for _ in range(7):
            await world.step(minutes=1)
        await world.say("ack INC-2")
        text = everything(await world.say("sla"))
        assert "SLA report — November 2026** (so far)" in text
        assert "MTTA ≤ 5 min" in text and "1/2" in text and "50.0 %" in text
        assert "Breaches (1)" in text and "INC-2" in text
        assert "INC-1" not in text.split("Breaches", 1)[1]
        last_month = everything(await world.say("sla report"))
        assert "October 2026" in last_month and "No incident episode" in last_month
        bad = everything(await world.say("sla --month 2026-13"))
        assert "YYYY-MM" in bad
        wrong = everything(await world.say("sla weekly"))
        assert "Usage: `sla [report]" in wrong
    finally:
        await world.close()


async def test_sla_without_targets_says_how_to_add_them(database: Database) -> None:
    world = await paging(database, "escalation: {policies: []}")
    try:
        text = everything(await world.say("sla"))
        assert "No SLA targets are configured" in text
    finally:
        await world.close()
