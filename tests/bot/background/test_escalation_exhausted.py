"""After the last level: the policy's `repeat`, then "nobody acknowledged" said once in the
incident's thread, and an acknowledgement that still stops the escalation and updates the
card."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from storage.database import Database
from tests.bot.background.paging_harness import Paging, paging
from tests.conftest import database_url_for

TWO_LEVELS_REPEATED = """
escalation:
  policies:
    - name: nights
      repeat: 1
      levels:
        - {after: 0s, notify: ["user:dana"]}
        - {after: 5m, notify: ["user:lee"]}
notify:
  people: {dana: {name: Dana, slack: U0DANA1}, lee: {name: Lee, slack: U0LEE11}}
"""


@pytest.fixture
async def lookout(tmp_path: Path) -> AsyncIterator[Paging]:
    database = Database(database_url_for(tmp_path))
    await database.upgrade()
    world = await paging(database, TWO_LEVELS_REPEATED)
    yield world
    await world.close()
    await database.dispose()


def nobody_acknowledged(lookout: Paging) -> list[str]:
    return [text for kind, _, text in lookout.chat.calls if "Nobody acknowledged" in text]


async def test_nobody_acknowledged_is_said_once_after_the_last_level_and_an_ack_stops_it(
    lookout: Paging,
) -> None:
    await lookout.fire("Down", "api")
    await lookout.step(seconds=1)
    # The period is 10 minutes (the last level's 5m and the 5m gap before it): the repeat
    # pages Dana at 10m and Lee at 15m, and the last level has until 20m to be answered.
    for minutes in (5, 5, 5):
        await lookout.step(minutes=minutes)
    assert [call[1] for call in lookout.chat.of("dm")] == ["U0DANA1", "U0LEE11"] * 2
    assert (await lookout.escalation()).status == "exhausted"
    assert "nobody acknowledged yet" in await lookout.card()
    await lookout.step(minutes=4, seconds=58)
    assert nobody_acknowledged(lookout) == []
    await lookout.step(seconds=2)
    (notice,) = nobody_acknowledged(lookout)
    assert "Nobody acknowledged INC-1: policy nights went through its 2 levels 2 times" in notice
    for _ in range(3):
        await lookout.step(minutes=30)
    assert len(nobody_acknowledged(lookout)) == 1
    assert len(lookout.chat.of("dm")) == 4  # nobody is paged after the last level
    timeline = await lookout.timeline()
    assert sum("Nobody acknowledged INC-1" in text for text in timeline) == 1
    card = await lookout.card()
    assert "📟 Level 2 of 2, repeat 1 (nights) — nobody acknowledged and nobody else" in card
    # Someone takes it after all: the escalation stops, and the card says who took it.
    answer = await lookout.say("ack INC-1", who="Lee")
    assert "acknowledged" in answer.plain_text
    await lookout.step(seconds=1)
    row = await lookout.escalation()
    assert (row.status, row.next_at) == ("acknowledged", None)
    assert (await lookout.timeline())[-1] == "Escalation stopped at level 2: acknowledged by Lee"
    card = await lookout.card()
    assert "Escalation stopped at level 2 of 2, repeat 1: acknowledged by Lee" in card
    assert "nobody acknowledged" not in card


async def test_an_ack_between_the_last_level_and_the_notice_stops_it_without_a_notice(
    lookout: Paging,
) -> None:
    await lookout.fire("Down", "api")
    await lookout.step(seconds=1)
    for minutes in (5, 5, 5):
        await lookout.step(minutes=minutes)
    assert (await lookout.escalation()).status == "exhausted"
    await lookout.say("ack INC-1", who="Dana")
    await lookout.step(minutes=1)
    await lookout.step(minutes=30)
    assert nobody_acknowledged(lookout) == []
    assert (await lookout.escalation()).status == "acknowledged"
    assert "Escalation stopped at level 2 of 2, repeat 1: acknowledged by Dana" in (
        await lookout.card()
    )


async def test_a_snooze_that_runs_out_pages_the_last_level_again_and_says_so_once_more(
    lookout: Paging,
) -> None:
    await lookout.fire("Down", "api")
    await lookout.step(seconds=1)
    for minutes in (5, 5, 5, 5):
        await lookout.step(minutes=minutes)
    assert len(nobody_acknowledged(lookout)) == 1
    await lookout.say("snooze INC-1 30m", who="Dana")
    await lookout.step(minutes=29)
    assert len(lookout.chat.of("dm")) == 4
    await lookout.step(minutes=1)  # the snooze is over: Lee, the level reached, again
    assert [call[1] for call in lookout.chat.of("dm")][4:] == ["U0LEE11"]
    await lookout.step(minutes=5)
    assert len(nobody_acknowledged(lookout)) == 2
    for _ in range(3):
        await lookout.step(minutes=30)
    assert len(nobody_acknowledged(lookout)) == 2
    assert len(lookout.chat.of("dm")) == 5
    timeline = await lookout.timeline()
    assert sum("Nobody acknowledged INC-1" in text for text in timeline) == 2


async def test_a_severity_that_rises_after_the_last_level_pages_from_the_first_again(
    lookout: Paging,
) -> None:
    """Nobody answered an error; when it becomes critical, that is news: the policy starts
    over at its first level, once, and the timeline says why."""
    await lookout.fire("Slow", "api", severity="error")
    await lookout.step(seconds=1)
    for minutes in (5, 5, 5, 5):
        await lookout.step(minutes=minutes)
    assert (await lookout.escalation()).status == "exhausted"
    paged = len(lookout.chat.of("dm"))
    await lookout.say("severity INC-1 critical")
    await lookout.step(seconds=1)
    assert [call[1] for call in lookout.chat.of("dm")[paged:]] == ["U0DANA1"]
    row = await lookout.escalation()
    assert (row.status, row.level) == ("active", 1)
    assert "severity rose to critical" in (row.reason or "")
    assert any("Escalation: severity rose to critical" in t for t in await lookout.timeline())
    await lookout.step(seconds=1)
    assert len(lookout.chat.of("dm")) == paged + 1  # once, not at every pass
