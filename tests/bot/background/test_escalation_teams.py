"""Business hours per team, through the escalation pass: a warning on a service of a team
in New York waits for 09:00 there, while the same warning elsewhere pages in the global
hours (UTC)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from core.topology import Service, Topology
from storage.database import Database
from tests.bot.background.paging_harness import Clock, paging
from tests.conftest import database_url_for

TEAM_HOURS = """
escalation:
  business_hours: {days: mon-fri, start: "09:00", end: "17:00", timezone: UTC}
  teams:
    payments:
      business_hours: {days: mon-fri, start: "09:00", end: "17:00", timezone: America/New_York}
  policies:
    - {name: everyone, levels: [{after: 0s, notify: ["user:dana"]}]}
notify:
  people: {dana: {slack: U0DANA1}}
"""


async def test_a_teams_business_hours_decide_when_its_warnings_page(tmp_path: Path) -> None:
    database = Database(database_url_for(tmp_path))
    await database.upgrade()
    topology = Topology([Service("checkout", team="payments"), Service("search", team="web")])
    tuesday = datetime(2026, 12, 1, 13, 30, tzinfo=UTC)  # 08:30 in New York
    lookout = await paging(database, TEAM_HOURS, clock=Clock(tuesday), topology=topology)
    await lookout.fire("SlowQueries", "checkout", severity="warning")
    await lookout.fire("SlowQueries", "search", severity="warning")
    await lookout.step(seconds=1)
    assert len(await lookout.pages(incident=1)) == 0
    assert len(await lookout.pages(incident=2)) == 1  # web keeps the global (UTC) hours
    timeline = "\n".join(await lookout.timeline(1))
    assert "outside business hours (mon,tue,wed,thu,fri 09:00–17:00 America/New_York)" in timeline
    await lookout.step(minutes=29)  # 13:59:01 UTC
    assert len(await lookout.pages(incident=1)) == 0
    await lookout.step(minutes=1)  # 09:00 in New York: nobody took it, so it pages
    (page,) = await lookout.pages(incident=1)
    assert (page.recipient, page.status) == ("dm:slack:U0DANA1", "sent")
    await lookout.close()
    await database.dispose()
