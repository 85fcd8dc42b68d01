"""The SLA clocks on the incident's message: deadlines, which stay true between redraws
(the message is redrawn when something happens, not every minute), shown in each reader's
time zone on Slack, and "overdue since" once the escalation pass records the breach."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from bot.slack.render import render_blocks
from storage.database import Database
from tests.bot.background.paging_harness import T0, Paging, paging
from tests.conftest import database_url_for

SLA = """
escalation:
  policies:
    - name: default
      levels:
        - {after: 0s, notify: ["user:dana"]}
        - {after: 1h, notify: ["user:dana"]}
notify:
  people: {dana: {name: Dana, slack: U0DANA1}}
sla:
  targets:
    - {severity: critical, mtta: 5m, mttr: 4h}
"""


@pytest.fixture
async def lookout(tmp_path: Path) -> AsyncIterator[Paging]:
    database = Database(database_url_for(tmp_path))
    await database.upgrade()
    world = await paging(database, SLA)
    yield world
    await world.close()
    await database.dispose()


def clock_line(card: str) -> str:
    """The message's SLA field (the last of its fields)."""
    return card.split("SLA: ", 1)[1].splitlines()[0]


async def test_the_card_shows_deadlines_that_stay_true_until_the_breach_redraws_it(
    lookout: Paging,
) -> None:
    await lookout.fire("Down", "api")  # opened at 03:00 UTC
    await lookout.step(seconds=1)
    reply, revision = await lookout.card_reply()
    line = clock_line(reply.plain_text)
    assert line == "⏱ ack due by 03:05 UTC (target 5m) · resolve due by 07:00 UTC (target 4h)"
    # Slack shows the deadline in each reader's own time zone.
    slack = "\n".join(str(block) for block in render_blocks(reply))
    due = int((T0 + timedelta(minutes=5)).timestamp())
    assert f"ack due by <!date^{due}^{{date_short_pretty}} {{time}}|03:05 UTC>" in slack
    # Minutes pass and nothing happens: the message is not redrawn, and needs not be.
    for _ in range(4):
        await lookout.step(minutes=1)
        later, later_revision = await lookout.card_reply()
        assert later_revision == revision
        assert clock_line(later.plain_text) == line
    # 03:05: the breach is recorded, which redraws the message.
    await lookout.step(minutes=1)
    reply, breached_revision = await lookout.card_reply()
    assert breached_revision > revision
    assert clock_line(reply.plain_text) == (
        "⏰ ack overdue since 03:05 UTC (target 5m) · resolve due by 07:00 UTC (target 4h)"
    )
    # Acknowledged: the ack clock's outcome, and the resolve deadline.
    await lookout.step(minutes=2)
    await lookout.say("ack INC-1", who="Dana")
    await lookout.step(seconds=1)
    assert clock_line(await lookout.card()) == (
        "⏰ ack in 7:01 — breached (target 5m) · resolve due by 07:00 UTC (target 4h)"
    )
