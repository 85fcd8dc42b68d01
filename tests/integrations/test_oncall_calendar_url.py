"""An on-call schedule read from an iCalendar URL, served over real HTTP on loopback: who it
names is paged and answers `oncall`; the feed is read again every `refresh_minutes`; when
it fails, the last good copy answers and `oncall` says why; a feed never read is an error."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from core.oncall import OncallConfig
from integrations.oncall import OncallDirectory
from integrations.oncall_calendar import CalendarError
from skills.contract import Table
from storage.database import Database
from tests.bot.background.paging_harness import T0, paging
from tests.conftest import database_url_for, free_port


def calendar(*shifts: tuple[str, str, str]) -> str:
    """A Grafana OnCall export: one event per (person, start, end), times in UTC."""
    events = "".join(
        f"BEGIN:VEVENT\r\nUID:shift-{n}\r\nSUMMARY:{who}\r\nDTSTART:{start}\r\n"
        f"DTEND:{end}\r\nEND:VEVENT\r\n"
        for n, (who, start, end) in enumerate(shifts)
    )
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Grafana Labs//Grafana On-Call//\r\n"
        f"{events}END:VCALENDAR\r\n"
    )


DANA_THEN_LEE = calendar(
    ("dana", "20261123T000000Z", "20261124T000000Z"),
    ("lee", "20261124T000000Z", "20261125T000000Z"),
)
SAM_ALL_WEEK = calendar(("sam", "20261123T000000Z", "20261130T000000Z"))


@dataclass
class CalendarServer:
    """Serves `text` at /schedules/database.ics, or answers `failing` (an HTTP status)."""

    url: str = ""
    text: str = DANA_THEN_LEE
    failing: int | None = None
    reads: int = 0

    async def feed(self, request: Request) -> Response:
        self.reads += 1
        if self.failing is not None:
            return PlainTextResponse("unavailable", status_code=self.failing)
        return PlainTextResponse(self.text, media_type="text/calendar")

    @property
    def feed_url(self) -> str:
        return f"{self.url}/schedules/database.ics"


@pytest.fixture
async def feed() -> AsyncIterator[CalendarServer]:
    server_state = CalendarServer()
    port = free_port()
    server_state.url = f"http://127.0.0.1:{port}"
    app = Starlette(routes=[Route("/schedules/database.ics", server_state.feed)])
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="off")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        yield server_state
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=10)


async def test_a_calendar_url_is_read_again_every_refresh_and_kept_when_it_fails(
    feed: CalendarServer,
) -> None:
    config = OncallConfig.model_validate(
        {"schedules": {"database": {"calendar": feed.feed_url, "refresh_minutes": 15}}}
    )
    async with httpx.AsyncClient() as http:
        directory = OncallDirectory(config, http=http)
        now = await directory.who("database", T0)
        assert now.now is not None and now.now.user == "dana"
        assert now.now.end == datetime(2026, 11, 24, tzinfo=UTC)
        assert now.next is not None and now.next.user == "lee"
        await directory.who("database", T0 + timedelta(minutes=10))
        assert feed.reads == 1  # within refresh_minutes: the copy read
        feed.failing = 503
        kept = await directory.who("database", T0 + timedelta(minutes=16))
        assert feed.reads == 2
        assert kept.now is not None and kept.now.user == "dana"
        assert directory.problem("database") == "the calendar answered HTTP 503"
        feed.failing, feed.text = None, SAM_ALL_WEEK
        changed = await directory.who("database", T0 + timedelta(minutes=32))
        assert changed.now is not None and changed.now.user == "sam"
        assert directory.problem("database") is None
        # A feed that never answered has no copy to fall back on.
        feed.failing = 404
        fresh = OncallDirectory(config, http=http)
        with pytest.raises(CalendarError, match="HTTP 404"):
            await fresh.who("database", T0)


CONFIG = """
oncall:
  schedules:
    database: {calendar: "%(url)s", timezone: UTC}
escalation:
  policies:
    - {name: db, levels: [{after: 0s, notify: ["oncall:database"]}]}
notify:
  people:
    dana: {name: Dana, slack: U0DANA1}
    lee: {name: Lee, slack: U0LEE11}
"""


async def test_whoever_the_calendar_url_names_is_paged_and_named_by_oncall(
    tmp_path: Path, feed: CalendarServer
) -> None:
    database = Database(database_url_for(tmp_path))
    await database.upgrade()
    lookout = await paging(database, CONFIG % {"url": feed.feed_url})
    await lookout.fire("ReplicationLag", "postgres")
    await lookout.step(seconds=1)
    assert [call[1] for call in lookout.chat.of("dm")] == ["U0DANA1"]
    assert "Level 1 of 1 (policy db): paging Dana" in "\n".join(await lookout.timeline())
    answer = await lookout.say("oncall database")
    (table,) = [block for block in answer.blocks if isinstance(block, Table)]
    ((schedule, on_call, until, upcoming),) = table.rows
    assert (schedule, on_call, until) == ("database", "**dana**", "Tue 24 Nov 00:00")
    assert upcoming == "lee from Tue 24 Nov 00:00"
    # The feed breaks: `oncall` still answers from the last copy, and says why.
    feed.failing = 500
    lookout.clock.advance(hours=1)
    answer = await lookout.say("oncall database")
    assert "calendar unreadable lately (the calendar answered HTTP 500)" in answer.plain_text
    (table,) = [block for block in answer.blocks if isinstance(block, Table)]
    assert table.rows[0][1] == "**dana**"
    await lookout.close()
    await database.dispose()
