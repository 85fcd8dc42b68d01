"""The scheduler on real databases: jobs persist across restarts, a missed run runs once,
and two processes on one PostgreSQL database post a scheduled report once."""

from __future__ import annotations

import asyncio
import itertools
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from apscheduler.job import Job
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import create_engine, select

from bot.background.scheduled_work import ScheduledWork
from bot.background.scheduler import (
    JOB_FUNCTION,
    JOB_TABLE,
    JobSpec,
    Scheduler,
    describe,
    sync_url,
)
from bot.schedule_config import ScheduleEntry, crontab_trigger
from core.alerts import Alert
from skills.contract import Actor, Conversation, Reply
from storage.database import Database
from storage.models import ConsoleMessageRow
from tests.conftest import REPO, database_url_for, free_port, fresh_postgres


def test_sync_urls() -> None:
    assert sync_url("sqlite+aiosqlite:////tmp/x/lookout.db") == "sqlite:////tmp/x/lookout.db"
    assert (
        sync_url("postgresql+asyncpg://postgres:pw@db:5432/lookout")
        == "postgresql+psycopg://postgres:pw@db:5432/lookout"
    )
    with pytest.raises(ValueError, match="mysql"):
        sync_url("mysql+aiomysql://db/lookout")


def test_schedule_entries_as_written() -> None:
    entry = ScheduleEntry.model_validate(
        {
            "skill": "slo report",
            "channel": "#sre",
            "cron": "0 9 * * 1-5",
            "timezone": "Europe/Berlin",
        }
    )
    assert describe(entry.trigger()) == "cron 0 9 * * mon,tue,wed,thu,fri (Europe/Berlin)"
    # crontab weekdays, not APScheduler 3's (which start at Monday = 0)
    monday = datetime(2026, 11, 30, 12, tzinfo=UTC)
    fires = []
    moment = monday - timedelta(days=3)
    for _ in range(6):
        moment = entry.trigger().get_next_fire_time(None, moment) + timedelta(minutes=1)
        fires.append(moment.strftime("%a"))
    assert fires == ["Mon", "Tue", "Wed", "Thu", "Fri", "Mon"]
    assert crontab_trigger("0 0 * * 0", "UTC").fields[4].__str__() == "sun"
    assert str(crontab_trigger("0 0 * * 5-7", "UTC").fields[4]) == "sun,fri,sat"
    assert str(crontab_trigger("0 0 * * */2", "UTC").fields[4]) == "sun,tue,thu,sat"
    assert entry.job_id == "report:slo report → #sre (0 9 * * 1-5, Europe/Berlin)"
    with pytest.raises(ValueError, match="timezone"):
        ScheduleEntry.model_validate(
            {"skill": "x", "channel": "#a", "cron": "0 9 * * *", "timezone": "Mars/Olympus"}
        )
    with pytest.raises(ValueError):
        ScheduleEntry.model_validate({"skill": "x", "channel": "#a", "cron": "0 25 * * *"})


class Commands:
    """Stands in for the dispatcher: answers every command and counts them."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    async def __call__(self, text: str, actor: Actor, conversation: Conversation) -> Reply:
        self.calls.append(text)
        return Reply.text(f"report {len(self.calls)}")


async def nothing(_alerts: list[Alert]) -> None:
    return None


def work_for(database: Database, commands: Commands, entry: ScheduleEntry) -> ScheduledWork:
    return ScheduledWork(
        database=database,
        run_command=commands,
        accept=nothing,
        on_report=lambda: None,
        reports={entry.job_id: entry},
    )


async def runs(database: Database, job: str) -> list[datetime]:
    async with database.unit_of_work() as uow:
        return [row.scheduled_for for row in await uow.schedules.runs_of(job=job)]


async def test_jobs_survive_a_restart_and_a_missed_run_runs_once(tmp_path: Path) -> None:
    database = Database(database_url_for(tmp_path))
    await database.upgrade()
    entry = ScheduleEntry(skill="stats report", channel="#sre", cron="* * * * *")
    job = entry.job_id
    # Every 2 seconds, so that downtime can miss several runs in a short test.
    spec = JobSpec(job, entry.skill, CronTrigger(second="*/2", timezone=UTC), entry.channel)
    commands = Commands()
    first = Scheduler(database, [spec], work_for(database, commands, entry))
    await first.start()
    for _ in range(60):
        if await runs(database, job):
            break
        await asyncio.sleep(0.1)
    await first.stop()
    await asyncio.sleep(0.5)  # let a run under way finish its bookkeeping
    before = await runs(database, job)
    assert len(before) >= 1 and len(commands.calls) == len(before)
    (next_run,) = (await first.next_runs()).values() or [None]
    assert next_run is None  # stopped: it answers nothing any more

    await asyncio.sleep(5)  # down: at least two run times pass
    second = Scheduler(database, [spec], work_for(database, commands, entry))
    await second.start()
    for _ in range(100):  # the catch-up comes with the first pass over the store
        if len(await runs(database, job)) > len(before):
            break
        await asyncio.sleep(0.1)
    await asyncio.sleep(0.3)  # room for more catch-up runs, were there to be any
    await second.stop()
    await asyncio.sleep(0.5)  # a run that started before the stop finishes its bookkeeping
    after = await runs(database, job)
    new = after[len(before) :]
    # The run times that passed while it was down ran once, as the latest of them: the
    # first run after the restart comes 4 s or more after the last one before it, with
    # nothing in between; after it, runs are 2 s apart again.
    assert new, "the missed run was not caught up"
    assert (new[0] - before[-1]).total_seconds() >= 4
    assert all((b - a).total_seconds() == 2 for a, b in itertools.pairwise(new))
    assert len(set(after)) == len(after) == len(commands.calls)
    listed = await second.jobs()
    assert [j.job_id for j in listed] == [job]
    async with database.unit_of_work() as uow:
        last = (await uow.schedules.last_runs(jobs=[job]))[job]
    assert last.scheduled_for == after[-1] and last.outcome == "ok"
    await database.dispose()


async def test_two_schedulers_share_one_run(postgres_url: str) -> None:
    """Both replicas find the same run due at the same moment; one runs it."""
    database = Database(postgres_url)
    await database.upgrade()
    entry = ScheduleEntry(skill="stats report", channel="#sre", cron="* * * * *")
    spec = JobSpec(entry.job_id, entry.skill, CronTrigger(second="*/2", timezone=UTC), "#sre")
    commands = Commands()
    replicas = [
        Scheduler(Database(postgres_url), [spec], work_for(database, commands, entry))
        for _ in range(2)
    ]
    await asyncio.gather(*(replica.start() for replica in replicas))
    await asyncio.sleep(4.5)
    for replica in replicas:
        await replica.stop()
    await asyncio.sleep(0.3)
    done = await runs(database, entry.job_id)
    assert len(done) >= 2
    assert len(commands.calls) == len(done) == len(set(done))
    await database.dispose()


# --- two real processes ---


def seed_missed_run(url: str, entry: ScheduleEntry, down_for: timedelta) -> None:
    """The job as an earlier Lookout left it in the store before going down for `down_for`:
    its next run the first one after that moment (every one since then is missed)."""
    trigger = entry.trigger()
    next_run = trigger.get_next_fire_time(None, datetime.now(UTC) - down_for)
    engine = create_engine(sync_url(url))
    owner = BlockingScheduler(timezone=UTC)  # never started: jobs need one to belong to
    store = SQLAlchemyJobStore(engine=engine, tablename=JOB_TABLE)
    store.start(owner, "default")
    store.add_job(
        Job(
            owner,
            id=entry.job_id,
            func=JOB_FUNCTION,
            trigger=trigger,
            executor="default",
            args=(entry.job_id,),
            kwargs={},
            name=entry.skill,
            misfire_grace_time=None,
            coalesce=True,
            max_instances=1,
            next_run_time=next_run,
        )
    )
    engine.dispose()


@contextmanager
def lookout_process(env: dict[str, str], log: Path) -> Iterator[str]:
    port = free_port()
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "bot", "serve", "--port", str(port)],
            env={**os.environ, **env},
            cwd=REPO,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert process.poll() is None, log.read_text()[-3000:]
                time.sleep(0.2)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


async def test_two_processes_on_one_postgres_post_a_report_once(tmp_path: Path) -> None:
    async with fresh_postgres() as url:
        database = Database(url)
        await database.upgrade()
        config = tmp_path / "lookout.yaml"
        config.write_text(
            'schedules:\n  - {skill: "stats report", channel: "#sre", cron: "0 9 * * 1-5",'
            " timezone: Europe/Berlin}\n"
        )
        entry = ScheduleEntry(
            skill="stats report", channel="#sre", cron="0 9 * * 1-5", timezone="Europe/Berlin"
        )
        await asyncio.to_thread(seed_missed_run, url, entry, timedelta(days=7))
        env = {"LOOKOUT_DATABASE_URL": url, "LOOKOUT_CONFIG": str(config)}
        with (
            lookout_process(env, tmp_path / "a.log"),
            lookout_process(env, tmp_path / "b.log"),
        ):
            posted: list[ConsoleMessageRow] = []
            for _ in range(150):
                async with database.unit_of_work() as uow:
                    posted = list(
                        (
                            await uow.session.scalars(
                                select(ConsoleMessageRow).where(ConsoleMessageRow.channel == "#sre")
                            )
                        ).all()
                    )
                if posted:
                    break
                await asyncio.sleep(0.2)
            await asyncio.sleep(3)  # time for a second post, were there to be one
            async with database.unit_of_work() as uow:
                posted = list(
                    (
                        await uow.session.scalars(
                            select(ConsoleMessageRow).where(ConsoleMessageRow.channel == "#sre")
                        )
                    ).all()
                )
                done = await uow.schedules.runs_of(job=entry.job_id)
        logs = (tmp_path / "a.log").read_text() + (tmp_path / "b.log").read_text()
        assert len(posted) == 1, logs[-3000:]
        assert "Weekly incident report" in str(posted[0].body)
        assert len(done) == 1 and done[0].outcome == "ok"
        # A week of missed weekday mornings became one run, at the latest of them.
        assert done[0].scheduled_for.astimezone(UTC).hour in (7, 8)
        await database.dispose()
