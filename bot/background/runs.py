"""Runbook runs in the process: start approved runs, record every step as it happens, and
leave nothing half-told — a run cut short by a restart is marked interrupted.

Progress is written to the run's row (revision bumped) and the notifier edits the run's one
message from it, so a click, a restart or a second replica all see the same story.

On SQLite Lookout is one process, so at start every run still under way was cut short by
the restart. Replicas on PostgreSQL cannot tell that from a run another replica is executing
right now, so there the executing process writes a heartbeat on the run's row every
`HEARTBEAT` seconds, and every replica looks every `WATCH_SECONDS`: a run whose heartbeat is
older than `STALE` lost its process and is marked interrupted, and an approved run that no
process started (the one that approved it died first) is started by whoever looks first —
the row lock taken at its start lets exactly one through.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from runbooks.catalog import RunbookCatalog
from runbooks.executor import Executor
from runbooks.plan import Plan, PlanError
from runbooks.policy import RateLimiter
from runbooks.results import (
    NOTHING_TO_ROLL_BACK,
    ManualRequest,
    RunEvent,
    RunFinished,
    RunResult,
    StepFinished,
    StepStarted,
)
from runbooks.schema import Runbook
from skills.formatting import duration
from skills.views.run_card import run_ref
from storage.database import Database
from storage.models import RunbookRunRow
from storage.runs import touch
from storage.uow import UnitOfWork

log = logging.getLogger(__name__)

POLL_SECONDS = 0.5
HEARTBEAT = timedelta(seconds=5)
STALE = timedelta(seconds=30)  # six missed heartbeats: the executing process is gone
WATCH_SECONDS = 10.0
HOUR = timedelta(hours=1)
EXCERPT_LINES = 3  # of each step's output on the run's card; `run show` has all of it
EXCERPT_CHARS = 300
STOPPING = " — stopping after the current step."  # what `cancel` adds while a run goes on


def _confirmed(steps: dict[str, Any], request: ManualRequest) -> bool:
    """Whether someone confirmed this manual step (of this phase: rollback steps are numbered
    from 1 again)."""
    return any(
        int(entry.get("number", 0)) == request.number
        and entry.get("phase", "steps") == str(request.phase)
        for entry in steps.get("confirmations", [])
    )


class RunManager:
    def __init__(
        self,
        database: Database,
        executor: Executor,
        catalog: RunbookCatalog,
        *,
        on_change: Callable[[], None],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        poll_seconds: float = POLL_SECONDS,
    ) -> None:
        self._database = database
        self._executor = executor
        self._catalog = catalog
        self._on_change = on_change
        self._clock = clock
        self._poll = poll_seconds
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self._watcher: asyncio.Task[None] | None = None

    def launch(self, run_id: int) -> None:
        if run_id not in self._tasks:
            task = asyncio.create_task(self._execute(run_id), name=f"lookout-run-{run_id}")
            self._tasks[run_id] = task
            task.add_done_callback(lambda _: self._tasks.pop(run_id, None))

    async def wait(self, run_id: int) -> None:
        """Until the run's task is done (tests, and a graceful shutdown)."""
        task = self._tasks.get(run_id)
        if task is not None:
            await asyncio.shield(task)

    async def recover(self) -> None:
        """At start: runs that were under way when the process stopped are interrupted (on
        PostgreSQL: those whose process stopped, see the module's docstring)."""
        if not self._database.is_sqlite:
            await self.take_over()
            return
        async with self._database.unit_of_work() as uow:
            for run in await uow.runs.with_status(statuses=("approved", "running")):
                touch(
                    run,
                    status="interrupted",
                    finished_at=self._clock(),
                    detail="Lookout restarted while this run was under way; check what it did.",
                    steps={**run.steps, "waiting": None},
                )
                text = f"{run_ref(run.id)} ({run.runbook}) interrupted"
                await self._event(uow, run.incident_id, text, run.id, outcome="interrupted")
        self._on_change()

    async def take_over(self) -> None:
        """Runs another replica left: a running one whose heartbeat stopped is interrupted,
        an approved one nobody started is started here (if no one else starts it first)."""
        now = self._clock()
        stale: list[int] = []
        async with self._database.unit_of_work() as uow:
            for run in await uow.runs.with_status(statuses=("approved", "running")):
                if run.status == "approved":
                    self.launch(run.id)
                elif run.id not in self._tasks:
                    alive = run.heartbeat_at or run.started_at or run.requested_at
                    if now - alive >= STALE:
                        stale.append(run.id)
        for run_id in stale:
            await self._interrupt(
                run_id,
                "The Lookout process running this run stopped while it was under way; "
                "check what it did.",
                unless_alive_since=now - STALE,
            )

    def start(self) -> None:
        """Every `WATCH_SECONDS`, take over what a stopped replica left (PostgreSQL only)."""
        if self._database.is_sqlite or self._watcher is not None:
            return

        async def watch() -> None:
            while True:
                await asyncio.sleep(WATCH_SECONDS)
                try:
                    await self.take_over()
                except Exception:
                    log.exception("taking over runs failed; trying again")

        self._watcher = asyncio.create_task(watch(), name="lookout-run-watch")

    async def stop(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
            self._watcher = None
        for task in list(self._tasks.values()):
            task.cancel()
        for task in list(self._tasks.values()):
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _execute(self, run_id: int) -> None:
        try:
            plan = await self._start(run_id)
            if plan is None:
                return
            cancel = asyncio.Event()
            watcher = asyncio.create_task(self._watch_cancel(run_id, cancel))
            try:
                result = await self._executor.run(
                    plan,
                    on_event=lambda event: self._record(run_id, event),
                    cancel=cancel,
                    confirm=lambda request: self._confirm(run_id, request, cancel),
                )
            finally:
                watcher.cancel()
            await self._finish(run_id, result)
        except asyncio.CancelledError:
            await self._interrupt(run_id, "Lookout stopped while this run was under way.")
            raise
        except Exception as error:
            log.exception("runbook run failed unexpectedly", extra={"run": run_id})
            await self._interrupt(
                run_id, f"Lookout could not finish this run ({type(error).__name__})."
            )

    async def _start(self, run_id: int) -> Plan | None:
        """Re-plan exactly what was approved; refuse if the runbook changed since."""
        async with self._database.unit_of_work() as uow:
            run = await uow.runs.get(run_id=run_id, for_update=True)
            if run is None or run.status != "approved":
                return None
            entry = self._catalog.get(run.runbook)
            problem = None
            plan = None
            if entry is None:
                problem = f"The runbook {run.runbook} is no longer available."
            else:
                planned_at = datetime.fromisoformat(str(run.plan.get("planned_at")))
                try:
                    plan = self._executor.plan(
                        entry.runbook, run.arguments, services=None, now=planned_at
                    )
                except PlanError as error:
                    problem = f"It can no longer be planned: {'; '.join(error.problems)}."
                if plan is not None and plan.digest != run.plan.get("digest"):
                    problem = "The runbook changed since this run was approved; ask again."
                if problem is None:
                    problem = await self._rate_limited(uow, entry.runbook)
            if problem is not None or plan is None:
                touch(run, status="failed", finished_at=self._clock(), detail=problem)
                await self._audit(uow, run, "run.start", "failed", {"reason": problem})
                await self._event(
                    uow, run.incident_id, f"{run_ref(run.id)} did not start: {problem}", run.id
                )
            else:
                touch(run, status="running", started_at=self._clock(), heartbeat_at=self._clock())
                await self._audit(uow, run, "run.start", "ok", {})
                await self._event(uow, run.incident_id, f"{run_ref(run.id)} started", run.id)
        self._on_change()  # a refusal shows on the card at once too, not at the next idle pass
        return plan if problem is None else None

    async def _rate_limited(self, uow: UnitOfWork, runbook: Runbook) -> str | None:
        """The hourly limit counts runs that started: checked again now, since several
        requests may have waited for approval at once."""
        now = self._clock()
        starts = await uow.runs.starts_since(runbook=runbook.name, since=now - HOUR)
        limit = RateLimiter.for_runbook(runbook).check(starts, now)
        if limit:
            return None
        wait = f"; ask again in {duration(limit.retry_after)}" if limit.retry_after else ""
        return f"{runbook.name} {limit.reason}{wait}."

    async def _record(self, run_id: int, event: RunEvent) -> None:
        async with self._database.unit_of_work() as uow:
            run = await uow.runs.get(run_id=run_id, for_update=True)
            if run is None:
                return
            steps: dict[str, Any] = dict(run.steps)
            if isinstance(event, StepStarted):
                steps["current"] = {
                    "phase": str(event.phase),
                    "number": event.number,
                    "total": event.total,
                    "name": event.name,
                }
                steps["waiting"] = None
            elif isinstance(event, StepFinished):
                outcome = event.outcome
                excerpt = outcome.excerpt(lines=EXCERPT_LINES, chars=EXCERPT_CHARS)
                waiting = steps.get("waiting") or {}
                manual = waiting.get("number") == outcome.number and waiting.get("phase") == str(
                    outcome.phase
                )
                steps["steps"] = [
                    *steps.get("steps", []),
                    {
                        "phase": str(outcome.phase),
                        "number": outcome.number,
                        "name": outcome.name,
                        "status": str(outcome.status),
                        "seconds": round(outcome.duration_seconds, 2),
                        "excerpt": list(excerpt.lines),
                        "hidden": excerpt.hidden,
                        "from_end": excerpt.from_end,
                        "error": outcome.error,
                        "manual": manual,
                    },
                ]
                steps["current"] = None
                steps["waiting"] = None
                await uow.runs.save_output(
                    run_id=run_id,
                    phase=str(outcome.phase),
                    number=outcome.number,
                    name=outcome.name,
                    status=str(outcome.status),
                    output=outcome.output,
                    now=self._clock(),
                )
                step = {
                    "phase": str(outcome.phase),
                    "number": outcome.number,
                    "name": outcome.name,
                    "seconds": round(outcome.duration_seconds, 2),
                    "error": outcome.error,
                    "manual": manual,
                }
                await self._audit(uow, run, "run.step", str(outcome.status), step)
            elif isinstance(event, RunFinished):
                return
            touch(run, steps=steps)
        self._on_change()

    async def _confirm(self, run_id: int, request: ManualRequest, cancel: asyncio.Event) -> bool:
        """A manual step: show a Confirm button, then wait for `confirm R-n` (any replica)."""
        async with self._database.unit_of_work() as uow:
            run = await uow.runs.get(run_id=run_id, for_update=True)
            if run is None:
                return False
            touch(
                run,
                steps={
                    **run.steps,
                    "waiting": {
                        "phase": str(request.phase),
                        "number": request.number,
                        "name": request.name,
                        "prompt": request.prompt,
                    },
                },
            )
        self._on_change()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + request.timeout_seconds
        while loop.time() < deadline and not (cancel.is_set() and request.phase == "steps"):
            async with self._database.unit_of_work() as uow:
                run = await uow.runs.get(run_id=run_id)
                if run is not None and _confirmed(run.steps, request):
                    return True
            await asyncio.sleep(self._poll)
        return False

    async def _watch_cancel(self, run_id: int, cancel: asyncio.Event) -> None:
        """Until the run ends: notice a `cancel` from any replica, and keep the heartbeat."""
        beat = self._clock()
        while not cancel.is_set():
            await asyncio.sleep(self._poll)
            now = self._clock()
            async with self._database.unit_of_work() as uow:
                if now - beat >= HEARTBEAT:
                    await uow.runs.beat(run_id=run_id, now=now)
                    beat = now
                run = await uow.runs.get(run_id=run_id)
                if run is not None and run.cancel_requested:
                    cancel.set()

    async def _finish(self, run_id: int, result: RunResult) -> None:
        status = str(result.status)
        if status == "failed" and result.rolled_back:
            status = "rolled_back"
        async with self._database.unit_of_work() as uow:
            run = await uow.runs.get(run_id=run_id, for_update=True)
            if run is None:
                return
            detail = run.detail
            if status == "cancelled" and detail:
                detail = detail.removesuffix(STOPPING)
            failed = result.failed_step
            if failed is not None and status in ("failed", "rolled_back"):
                detail = (
                    f"Step {failed.number} ({failed.name}) {failed.status}: {failed.error or ''}"
                )
            skipped = f"; {NOTHING_TO_ROLL_BACK}" if result.rollback_skipped else ""
            if skipped:
                failure = (detail or "It failed").rstrip(". ")
                detail = f"{failure}. {NOTHING_TO_ROLL_BACK.capitalize()}."
            touch(
                run,
                status=status,
                finished_at=self._clock(),
                detail=detail,
                steps={**run.steps, "current": None, "waiting": None},
            )
            text = f"{run_ref(run.id)} ({run.runbook}) {status.replace('_', ' ')}{skipped}"
            await self._event(uow, run.incident_id, text, run.id, outcome=status)
            await self._audit(uow, run, "run.finish", status, {"detail": detail})
        self._on_change()

    async def _interrupt(
        self, run_id: int, detail: str, *, unless_alive_since: datetime | None = None
    ) -> None:
        """The run stops here without an outcome: say so on its card and in the timeline.
        With `unless_alive_since`, not if its heartbeat is that recent (read under the lock)."""
        with contextlib.suppress(Exception):
            async with self._database.unit_of_work() as uow:
                run = await uow.runs.get(run_id=run_id, for_update=True)
                alive = (
                    run is not None
                    and unless_alive_since is not None
                    and run.heartbeat_at is not None
                    and run.heartbeat_at > unless_alive_since
                )
                if run is not None and run.status in ("approved", "running") and not alive:
                    touch(
                        run,
                        status="interrupted",
                        finished_at=self._clock(),
                        detail=detail,
                        steps={**run.steps, "waiting": None},
                    )
                    text = f"{run_ref(run.id)} ({run.runbook}) interrupted"
                    await self._event(uow, run.incident_id, text, run.id, outcome="interrupted")
                    await self._audit(uow, run, "run.finish", "interrupted", {"detail": detail})
            self._on_change()

    async def _audit(
        self,
        uow: UnitOfWork,
        run: RunbookRunRow,
        action: str,
        outcome: str,
        detail: dict[str, Any],
    ) -> None:
        """An audit entry for what the run did, in the requester's name (Lookout executes
        it on their request), about its incident (else the run); its project is its
        incident's."""
        incident = None
        if run.incident_id is not None:
            incident = await uow.incidents.get(incident_id=run.incident_id)
        await uow.audit.record(
            at=self._clock(),
            platform=run.platform,
            # `requested_by` is `platform:user id` (skills.commands.run.actor_key).
            user_id=run.requested_by.removeprefix(f"{run.platform}:"),
            user_name=run.requested_by_name,
            action=action,
            target=f"INC-{run.incident_id}" if run.incident_id else run_ref(run.id),
            detail={
                "run": run_ref(run.id),
                "runbook": run.runbook,
                "dry_run": run.dry_run,
                "executed_by": "lookout",
                **detail,
            },
            outcome=outcome,
            project=incident.project if incident is not None else None,
        )

    async def _event(
        self, uow: UnitOfWork, incident_id: int | None, text: str, run_id: int, **data: Any
    ) -> None:
        if incident_id is not None:
            await uow.incidents.add_event(
                incident_id=incident_id,
                kind="runbook",
                text=text,
                at=self._clock(),
                data={"run": run_id, **data},
            )
