"""SLOs, capacity and checks end to end against a real Prometheus: three days of series
written by this test are backfilled into its TSDB with `promtool tsdb create-blocks-from
openmetrics`, the Debian `prometheus` binary serves them on a loopback port, and a running
Lookout with a Sloth file, capacity resources, a check and a scheduled `slo report` reads
them.

Requests: 100 a second for three days; 0.05 % of them fail, except in the last hour, when
2 % fail. Against a 99.9 % objective that is a burn of 20× over the last hour and the last
5 minutes (the 14.4× page fires), 3.75× over 6 h (under 6×), 1.3× over 1 d (under 3×),
0.77× over 3 d (under 1×): one page and no ticket.

Disks: two of 1,000 GB growing 10 GB a day: db-1 at 810 GB reaches 90 % in
(900 − 810) / 10 = 9 days (warning), db-2 at 870 GB in 3 days (critical: a low-severity
incident); db-2 reserved 4 TB it never uses (over-provisioned). A queue's depth follows a
daily rhythm until, in the last ten minutes, it jumps far above anything seen at that time
of day: a check nobody wrote an alert for notices."""

from __future__ import annotations

import asyncio
import math
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from bot.schedule_config import ScheduleEntry
from bot.settings import Settings
from skills.contract import Actor, Conversation, Image, Table
from storage.database import Database
from storage.models import AlertRow, ConsoleMessageRow
from tests.bot.background.test_scheduler import seed_missed_run
from tests.conftest import RunningServer, database_url_for, free_port, start_server
from tests.integrations.prometheus_process import PROMETHEUS, SKIP_REASON, running_prometheus

PROMTOOL = shutil.which("promtool")
pytestmark = pytest.mark.skipif(
    PROMETHEUS is None or PROMTOOL is None,
    reason=SKIP_REASON + " (promtool comes with it)",
)

RATE = 100.0  # requests per second
STEP = 60  # seconds between samples
BASE_ERRORS = 0.0005
BURST_ERRORS = 0.02

SLOTH = """\
version: "prometheus/v1"
service: "checkout"
labels:
  owner: "payments"
slos:
  - name: "requests-availability"
    objective: 99.9
    sli:
      events:
        error_query: sum(rate(http_requests_total{job="checkout",code=~"(5..|429)"}[{{.window}}]))
        total_query: sum(rate(http_requests_total{job="checkout"}[{{.window}}]))
    alerting:
      name: CheckoutHighErrorRate
      page_alert:
        labels:
          severity: pageteam
      ticket_alert:
        labels:
          severity: "slack"
"""


def openmetrics(end: int) -> str:
    """Three days ending at `end` (Unix seconds), one sample a minute."""
    start = end - 3 * 86400
    good_lines, bad_lines = [], []
    disks: dict[str, list[str]] = {"db-1": [], "db-2": []}
    queue = []
    good = bad = 0.0
    for moment in range(start, end + 1, STEP):
        days_left = (end - moment) / 86400
        for name, at_end in (("db-1", 810e9), ("db-2", 870e9)):
            used = at_end - 10e9 * days_left
            disks[name].append(f'disk_used_bytes{{instance="{name}"}} {used:.0f} {moment}')
        hour = (moment % 86400) / 3600
        depth = 100 + 50 * math.sin(2 * math.pi * hour / 24) + 5 * math.sin(moment / 97)
        if moment > end - 600:
            depth = 900.0
        queue.append(f'queue_depth{{service="checkout"}} {depth:.2f} {moment}')
        share = BURST_ERRORS if moment > end - 3600 else BASE_ERRORS
        requests = RATE * STEP
        bad += requests * share
        good += requests * (1 - share)
        good_lines.append(f'http_requests_total{{job="checkout",code="200"}} {good:.3f} {moment}')
        bad_lines.append(f'http_requests_total{{job="checkout",code="500"}} {bad:.3f} {moment}')
    return (
        "# TYPE http_requests counter\n"
        + "\n".join(good_lines + bad_lines)
        + "\n# TYPE disk_used_bytes gauge\n"
        + "\n".join(disks["db-1"] + disks["db-2"])
        + "\n# TYPE queue_depth gauge\n"
        + "\n".join(queue)
        + "\n# EOF\n"
    )


@pytest.fixture
def prometheus_with_history(tmp_path: Path) -> Iterator[tuple[str, int]]:
    end = int(datetime.now(UTC).timestamp()) // STEP * STEP
    folder = tmp_path / "prometheus"
    folder.mkdir()
    source = folder / "history.om"
    source.write_text(openmetrics(end))
    assert PROMTOOL is not None
    backfill = subprocess.run(
        [PROMTOOL, "tsdb", "create-blocks-from", "openmetrics", str(source), str(folder / "data")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert backfill.returncode == 0, backfill.stderr[-2000:]

    def ready(url: str) -> bool:
        response = httpx.get(
            f"{url}/api/v1/query", params={"query": "count(http_requests_total)"}, timeout=2
        )
        # 503 "Service Unavailable" while the TSDB is still opening the backfilled blocks.
        return response.status_code == 200 and bool(response.json()["data"]["result"])

    with running_prometheus(folder, "global: {}\n", ready, waiting_for="load the backfill") as url:
        yield url, end


async def console_messages(database: Database, channel: str) -> list[ConsoleMessageRow]:
    async with database.unit_of_work() as uow:
        query = select(ConsoleMessageRow).where(ConsoleMessageRow.channel == channel)
        return list((await uow.session.scalars(query)).all())


async def test_slo_report_and_burn_alert_end_to_end(
    tmp_path: Path, prometheus_with_history: tuple[str, int]
) -> None:
    prometheus_url, _end = prometheus_with_history
    (tmp_path / "slos").mkdir()
    (tmp_path / "slos" / "checkout.yml").write_text(SLOTH)
    config = tmp_path / "lookout.yaml"
    config.write_text(
        "slo:\n  files: [slos/checkout.yml]\n  evaluate_minutes: 0.25\n"
        "capacity:\n  evaluate_minutes: 0.25\n  resources:\n"
        '    - {name: "db-1 disk", service: postgres, usage: \'disk_used_bytes{instance="db-1"}\','
        " limit: 1e12}\n"
        '    - {name: "db-2 disk", service: postgres, usage: \'disk_used_bytes{instance="db-2"}\','
        " limit: 1e12, request: 4e12}\n"
        "checks:\n  - {name: QueueDepthUnusual, service: checkout, query: 'queue_depth',"
        " direction: above, every_minutes: 0.25}\n"
        'schedules:\n  - {skill: "slo report", channel: "#sre", cron: "0 9 * * 1-5",'
        " timezone: Europe/Berlin}\n"
    )
    settings = Settings(
        data_dir=tmp_path / "data",
        host="127.0.0.1",
        port=free_port(),
        config=config,
        PROMETHEUS_URL=prometheus_url,
    )
    settings.data_dir.mkdir()
    url = database_url_for(settings.data_dir.resolve())
    database = Database(url)
    await database.upgrade()
    entry = ScheduleEntry(
        skill="slo report", channel="#sre", cron="0 9 * * 1-5", timezone="Europe/Berlin"
    )
    # The report's last run time passed while Lookout was down: it is posted at start.
    await asyncio.to_thread(seed_missed_run, url, entry, timedelta(days=7))
    uvicorn_server, task, running = await start_server(settings)
    try:
        await _check(running, database)
    finally:
        uvicorn_server.should_exit = True
        await asyncio.wait_for(task, timeout=15)
        await database.dispose()


async def _check(running: RunningServer, database: Database) -> None:
    # 1. The scheduled report, posted once in #sre, with the numbers and the budget chart.
    posted: list[ConsoleMessageRow] = []
    for _ in range(150):
        posted = await console_messages(database, "#sre")
        if posted:
            break
        await asyncio.sleep(0.2)
    assert len(posted) == 1, "the missed report was not posted"
    body = str(posted[0].body)
    assert "SLO report" in body and "checkout / requests-availability" in body
    assert "image" in body

    # 2. The same numbers from the command, checked against the series' construction.
    lookout = running.lookout
    reply = await lookout.dispatcher.run(
        "slo checkout",
        actor=Actor(platform="console", user_id="alice", display_name="alice"),
        conversation=Conversation(platform="console", channel="#sre"),
    )
    table = next(block for block in reply.blocks if isinstance(block, Table))
    row = dict(zip(table.columns, table.rows[0], strict=True))
    assert row["Objective"] == "99.9 %"
    burn_1h = float(row["Burn 1h"].rstrip("×"))
    burn_1d = float(row["Burn 1d"].rstrip("×"))
    assert 18 < burn_1h < 22  # 2 % errors / 0.1 % budget = 20×
    assert 1.1 < burn_1d < 1.5  # (23 × 0.05 % + 2 %) / 24 / 0.1 % = 1.31×
    # Over the window (three days of data): (71 × 0.05 % + 2 %) / 72 = 0.077 % errors.
    assert 99.91 < float(row["SLI"].rstrip(" %")) < 99.93
    assert 20 < float(row["Budget left"].rstrip(" %")) < 26
    assert row[""] == "🔴 page"
    assert "page (14.4× over 1h and 5m" in reply.plain_text
    report = await lookout.dispatcher.run(
        "slo report",
        actor=Actor(platform="console", user_id="alice", display_name="alice"),
        conversation=Conversation(platform="console", channel="#sre"),
    )
    (image,) = [block for block in report.blocks if isinstance(block, Image)]
    assert image.png.startswith(b"\x89PNG") and len(image.png) > 5000

    # 3. Capacity: db-2 is critical, db-1 a warning; db-2 is over-provisioned.
    capacity = await lookout.dispatcher.run(
        "capacity report",
        actor=Actor(platform="console", user_id="alice", display_name="alice"),
        conversation=Conversation(platform="console", channel="#sre"),
    )
    text = capacity.plain_text
    assert "1 critical, 1 warning, 0 healthy" in text, text
    table = next(block for block in capacity.blocks if isinstance(block, Table))
    rows = {row[0]: dict(zip(table.columns, row, strict=True)) for row in table.rows}
    assert list(rows) == ["🔴 db-2 disk", "🟠 db-1 disk"]
    assert rows["🔴 db-2 disk"]["Now"] == "87.0 %"
    assert rows["🔴 db-2 disk"]["90 %"].startswith(("~2 d", "~3 d"))
    assert rows["🟠 db-1 disk"]["90 %"].startswith(("~8 d", "~9 d"))
    assert "Over-provisioned" in text and "db-2 disk: p95 22 %" in text
    assert len([b for b in capacity.blocks if isinstance(b, Image)]) == 1

    # 4. Burn rates, the capacity forecast and the check became alerts and incidents.
    alerts: dict[str, list[AlertRow]] = {}
    for _ in range(300):
        async with database.unit_of_work() as uow:
            rows_ = (await uow.session.scalars(select(AlertRow))).all()
        alerts = {}
        for row_ in rows_:
            alerts.setdefault(row_.receiver or "", []).append(row_)
        if {"lookout-slo", "lookout-capacity", "lookout-checks"} <= set(alerts):
            break
        await asyncio.sleep(0.2)
    (page,) = alerts["lookout-slo"]  # no ticket: 1 d and 3 d stay under 3× and 1×
    assert page.labels["alertname"] == "CheckoutHighErrorRate"
    assert page.labels["sloth_severity"] == "page" and page.severity == "critical"
    assert "burning 2" in page.annotations["summary"]
    (disk,) = alerts["lookout-capacity"]
    assert disk.labels["resource"] == "db-2 disk" and disk.severity == "warning"
    assert disk.annotations["summary"] in (
        "db-2 disk reaches 90 % in ~3 days",
        "db-2 disk reaches 90 % in ~2 days",
    )
    (check,) = alerts["lookout-checks"]
    assert check.labels["alertname"] == "QueueDepthUnusual" and check.service == "checkout"
    assert "usually about" in check.annotations["summary"]
    async with database.unit_of_work() as uow:
        incidents = {row.service: row for row in await uow.incidents.find(limit=10)}
    assert incidents["postgres"].severity == "warning"
    # The page and the queue check are both about checkout: one incident.
    assert page.incident_id == check.incident_id == incidents["checkout"].id
