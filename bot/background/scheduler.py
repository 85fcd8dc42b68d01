"""The scheduler: APScheduler 3's `AsyncIOScheduler` with its `SQLAlchemyJobStore` in
Lookout's own database, so jobs and their next run times survive restarts.

* The job store is synchronous SQLAlchemy (the URL is Lookout's with a synchronous driver:
  the stdlib `sqlite3`, or psycopg for PostgreSQL). Its queries never run on the event
  loop: every pass over due jobs, and every change to the job set, runs in one worker
  thread, and due jobs are handed back to the loop as coroutines.
* Jobs coalesce and have no misfire limit: a report whose run times passed while Lookout
  was down runs once when it starts again, not once per missed run.
* Several replicas may share the job store; each may find a job due. What runs it is
  `JobRunner.run`, which first claims the (job, scheduled time) row in `scheduled_runs`:
  the unique key lets exactly one replica through.

Each job's function is `scheduled_run` (a textual reference the job store can persist),
called by `RunnerExecutor` with the process's `JobRunner` and the run's scheduled time.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, JobExecutionEvent
from apscheduler.executors.base import BaseExecutor
from apscheduler.job import Job
from apscheduler.jobstores.base import ConflictingIdError
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import create_engine
from sqlalchemy.engine import Engine, make_url

from skills.scheduling import ScheduledJob
from storage.database import Database

log = logging.getLogger(__name__)

JOB_FUNCTION = "bot.background.scheduler:scheduled_run"
JOB_TABLE = "apscheduler_jobs"
# Interval jobs count from a fixed origin, so a restart keeps their phase and their trigger
# compares equal to the stored one.
INTERVAL_ORIGIN = datetime(2020, 1, 1, tzinfo=UTC)
STOP_GRACE = 10.0  # seconds a run under way may take to finish when Lookout stops


class JobRunner(Protocol):
    async def run(self, job_id: str, scheduled_for: datetime) -> None:
        """Run one scheduled time of a job (claim it first: another replica may have)."""
        ...


async def scheduled_run(
    job_id: str, *, runner: JobRunner | None = None, scheduled_for: datetime | None = None
) -> None:
    """What every stored job calls; `RunnerExecutor` supplies the runner and the time.

    Raises RuntimeError when called any other way."""
    if runner is None or scheduled_for is None:
        raise RuntimeError("scheduled jobs run through Lookout's RunnerExecutor")
    await runner.run(job_id, scheduled_for)


@dataclass(frozen=True)
class JobSpec:
    """A job as configuration wants it."""

    job_id: str
    what: str
    trigger: BaseTrigger
    channel: str | None = None

    @classmethod
    def every(cls, job_id: str, what: str, minutes: float) -> JobSpec:
        trigger = IntervalTrigger(
            seconds=max(round(minutes * 60), 1), start_date=INTERVAL_ORIGIN, timezone=UTC
        )
        return cls(job_id, what, trigger)


def describe(trigger: BaseTrigger) -> str:
    if isinstance(trigger, CronTrigger):
        fields = {field.name: str(field) for field in trigger.fields}
        crontab = " ".join(
            fields[name] for name in ("minute", "hour", "day", "month", "day_of_week")
        )
        return f"cron {crontab} ({trigger.timezone})"
    if isinstance(trigger, IntervalTrigger):
        seconds = trigger.interval.total_seconds()
        return f"every {seconds / 60:g} min" if seconds >= 60 else f"every {seconds:g} s"
    return str(trigger)


def sync_url(url: str) -> str:
    """Lookout's database URL with a synchronous driver, for the job store.

    Raises ValueError for a database the job store cannot reach synchronously."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return parsed.set(drivername="sqlite").render_as_string(hide_password=False)
    if backend == "postgresql":
        return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    raise ValueError(f"the scheduler cannot keep jobs in a {backend} database")


class RunnerExecutor(BaseExecutor):  # type: ignore[misc]
    """Runs due jobs as coroutines on the event loop (jobs are submitted from the worker
    thread), passing each its scheduled time."""

    def __init__(self, runner: JobRunner) -> None:
        super().__init__()
        self._runner = runner
        self._loop: asyncio.AbstractEventLoop | None = None
        self._running: set[concurrent.futures.Future[list[JobExecutionEvent]]] = set()

    def start(self, scheduler: Any, alias: str) -> None:
        super().start(scheduler, alias)
        self._loop = scheduler._eventloop

    def _do_submit_job(self, job: Job, run_times: list[datetime]) -> None:
        assert self._loop is not None
        future = asyncio.run_coroutine_threadsafe(self._run(job, run_times), self._loop)
        self._running.add(future)

        def done(finished: concurrent.futures.Future[list[JobExecutionEvent]]) -> None:
            self._running.discard(finished)
            if finished.cancelled():
                return
            try:
                events = finished.result()
            except BaseException:
                self._run_job_error(job.id, *sys.exc_info()[1:])
            else:
                self._run_job_success(job.id, events)

        future.add_done_callback(done)

    async def drain(self, *, grace: float) -> None:
        """Let the runs under way finish for up to `grace` seconds, then cancel the rest
        (the process is stopping; a run cut short leaves its claim unfinished)."""
        running = [asyncio.wrap_future(future) for future in list(self._running)]
        if running:
            _, late = await asyncio.wait(running, timeout=grace)
            for future in late:
                future.cancel()

    async def _run(self, job: Job, run_times: list[datetime]) -> list[JobExecutionEvent]:
        events = []
        for run_time in run_times:
            try:
                await job.func(*job.args, runner=self._runner, scheduled_for=run_time)
            except Exception as error:
                log.exception("scheduled job failed", extra={"job": job.id})
                events.append(
                    JobExecutionEvent(EVENT_JOB_ERROR, job.id, "default", run_time, error)
                )
            else:
                events.append(JobExecutionEvent(EVENT_JOB_EXECUTED, job.id, "default", run_time))
        return events


class OffLoopScheduler(AsyncIOScheduler):  # type: ignore[misc]
    """An AsyncIOScheduler whose passes over the job store run in one worker thread."""

    def __init__(self, **options: Any) -> None:
        self._worker = concurrent.futures.ThreadPoolExecutor(1, "lookout-scheduler")
        self._pass: asyncio.Future[float | None] | None = None
        self._again = False
        super().__init__(**options)

    def wakeup(self) -> None:
        """Thread-safe: ask for a pass over due jobs (one at a time, in the worker)."""
        loop = self._eventloop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._wake_on_loop)

    def _wake_on_loop(self) -> None:
        self._stop_timer()
        if self._pass is not None:
            self._again = True
            return
        self._pass = asyncio.get_running_loop().run_in_executor(self._worker, self._process_jobs)
        self._pass.add_done_callback(self._passed)

    def _passed(self, future: asyncio.Future[float | None]) -> None:
        self._pass = None
        try:
            wait = future.result()
        except Exception:
            log.exception("the scheduler's pass failed; retrying")
            wait = float(self.jobstore_retry_interval)
        if self._again:
            self._again = False
            self._wake_on_loop()
        elif self.running:
            self._start_timer(wait)

    def run_in_worker(self, function: Any, *args: Any) -> asyncio.Future[Any]:
        return asyncio.get_running_loop().run_in_executor(self._worker, function, *args)

    def close_worker(self) -> None:
        self._worker.shutdown(wait=True)


class Scheduler:
    """Lookout's jobs in APScheduler: kept in step with configuration at start, listed for
    `schedules` (implements `skills.scheduling.ScheduleBook`)."""

    def __init__(self, database: Database, specs: Sequence[JobSpec], runner: JobRunner) -> None:
        self._database = database
        self._specs = list(specs)
        self._runner = runner
        self._scheduler: OffLoopScheduler | None = None
        self._executor: RunnerExecutor | None = None
        self._engine: Engine | None = None

    @property
    def specs(self) -> list[JobSpec]:
        return list(self._specs)

    async def start(self) -> None:
        if not self._specs or self._scheduler is not None:
            return
        url = sync_url(self._database.url)
        connect_args = {"timeout": 15} if url.startswith("sqlite") else {"connect_timeout": 10}
        self._engine = create_engine(url, connect_args=connect_args, pool_pre_ping=True)
        self._executor = RunnerExecutor(self._runner)
        scheduler = OffLoopScheduler(
            jobstores={"default": SQLAlchemyJobStore(engine=self._engine, tablename=JOB_TABLE)},
            executors={"default": self._executor},
            job_defaults={"coalesce": True, "misfire_grace_time": None, "max_instances": 1},
            timezone=UTC,
            event_loop=asyncio.get_running_loop(),
        )
        self._scheduler = scheduler
        await scheduler.run_in_worker(self._start_in_worker, scheduler)
        log.info("scheduler started", extra={"jobs": [spec.job_id for spec in self._specs]})

    def _start_in_worker(self, scheduler: OffLoopScheduler) -> None:
        scheduler.start(paused=True)
        stored = {job.id: job for job in scheduler.get_jobs()}
        wanted = {spec.job_id for spec in self._specs}
        for job_id in set(stored) - wanted:
            scheduler.remove_job(job_id)
        for spec in self._specs:
            known = stored.get(spec.job_id)
            # Same trigger: keep the stored job and its next run time (a run missed while
            # Lookout was down is then still due).
            if known is not None and repr(known.trigger) == repr(spec.trigger):
                continue
            # ConflictingIdError: another replica added it a moment ago.
            with contextlib.suppress(ConflictingIdError):
                scheduler.add_job(
                    JOB_FUNCTION,
                    trigger=spec.trigger,
                    args=(spec.job_id,),
                    id=spec.job_id,
                    name=spec.what,
                    replace_existing=known is not None,
                )
        scheduler.resume()

    async def stop(self) -> None:
        scheduler, self._scheduler = self._scheduler, None
        if scheduler is None:
            return
        scheduler._stop_timer()
        await scheduler.run_in_worker(self._stop_in_worker, scheduler)
        if self._executor is not None:
            await self._executor.drain(grace=STOP_GRACE)
        scheduler.close_worker()
        if self._engine is not None:
            self._engine.dispose()

    @staticmethod
    def _stop_in_worker(scheduler: OffLoopScheduler) -> None:
        # BaseScheduler.shutdown directly: AsyncIOScheduler's would post it to the loop.
        BaseScheduler.shutdown(scheduler, wait=False)

    async def next_runs(self) -> dict[str, datetime | None]:
        scheduler = self._scheduler
        if scheduler is None:
            return {}
        jobs = await scheduler.run_in_worker(scheduler.get_jobs)
        return {job.id: job.next_run_time for job in jobs}

    async def jobs(self) -> list[ScheduledJob]:
        """Every job with its next run (last runs are in `scheduled_runs`; a caller inside
        a unit of work reads them there)."""
        next_runs = await self.next_runs()
        found = [
            ScheduledJob(
                job_id=spec.job_id,
                what=spec.what,
                when=describe(spec.trigger),
                channel=spec.channel,
                next_run=next_runs.get(spec.job_id),
            )
            for spec in self._specs
        ]
        far = datetime.max.replace(tzinfo=UTC) - timedelta(days=1)
        return sorted(found, key=lambda job: (job.next_run or far, job.what))
