"""Run an approved `Plan` step by step, telling the caller as it goes.

The executor knows nothing of chat or storage: approval happened before `run` was called,
progress goes to an async callback, a manual step asks through another, and cancellation is an
`asyncio.Event` the caller sets (checked between steps, and while waiting or polling). When a
step fails (and may not be skipped) the runbook's rollback steps run, each best effort — once a
step that changes something has started: a rollback undoes only what ran, so a run that failed
while it only showed or checked things (`read_only` steps, promql and wait steps) has nothing to
roll back.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Collection, Mapping
from datetime import datetime

import httpx

from runbooks.actions import (
    ExecAction,
    HttpAction,
    ManualAction,
    PlannedStep,
    PromqlAction,
    WaitAction,
)
from runbooks.config import Executables, ExecutionConfig
from runbooks.http_step import run_http
from runbooks.plan import Plan, build_plan
from runbooks.process import run_process
from runbooks.promql_step import QueryFunction, run_promql
from runbooks.redact import OutputBuffer, Redactor, secret_env_values
from runbooks.results import (
    ConfirmCallback,
    ManualRequest,
    Phase,
    ProgressCallback,
    RunEvent,
    RunFinished,
    RunResult,
    RunStatus,
    StepFinished,
    StepOutcome,
    StepStarted,
    StepStatus,
)
from runbooks.schema import Runbook

log = logging.getLogger(__name__)


class Executor:
    def __init__(
        self,
        config: ExecutionConfig,
        *,
        environ: Mapping[str, str],
        http: httpx.AsyncClient | None = None,
        query: QueryFunction | None = None,
    ) -> None:
        """`environ` is Lookout's environment (the composition root passes os.environ): only
        `config.env_allowlist` of it reaches a step, and PATH resolves allowed program names."""
        self.config = config
        self.http = http
        self.query = query
        self.base_env = config.step_environment(environ)
        self.executables: Executables = config.resolve_executables(environ.get("PATH"))

    def plan(
        self,
        runbook: Runbook,
        arguments: Mapping[str, str],
        *,
        services: Collection[str] | None,
        now: datetime,
        strict: bool = True,
    ) -> Plan:
        """`build_plan` with this executor's configuration; raises PlanError. `strict=False`
        is for dry runs (see `build_plan`)."""
        return build_plan(
            runbook,
            arguments,
            config=self.config,
            executables=self.executables,
            services=services,
            now=now,
            strict=strict,
        )

    def unavailable_programs(self, runbook: Runbook) -> list[str]:
        """The programs `runbook` starts that this Lookout's allowlist does not offer."""
        return [p for p in runbook.programs() if self.executables.resolve(p) is None]

    async def run(
        self,
        plan: Plan,
        *,
        on_event: ProgressCallback | None = None,
        cancel: asyncio.Event | None = None,
        confirm: ConfirmCallback | None = None,
    ) -> RunResult:
        run = _Run(self, plan, on_event, cancel or asyncio.Event(), confirm)
        return await run.execute()


class _Run:
    def __init__(
        self,
        executor: Executor,
        plan: Plan,
        on_event: ProgressCallback | None,
        cancel: asyncio.Event,
        confirm: ConfirmCallback | None,
    ) -> None:
        self.executor = executor
        self.config = executor.config
        self.plan = plan
        self.on_event = on_event
        self.cancel = cancel
        self.confirm = confirm
        step_env = [
            value
            for step in plan.steps + plan.rollback
            if isinstance(step.action, ExecAction)
            for value in secret_env_values(step.action.env)
        ]
        self.redact: Redactor = plan.redactor(self.config).with_secrets(
            [*secret_env_values(executor.base_env), *step_env]
        )

    async def execute(self) -> RunResult:
        status = RunStatus.SUCCEEDED
        outcomes: list[StepOutcome] = []
        changing_started = False
        for step in self.plan.steps:
            if self.cancel.is_set():
                status = RunStatus.CANCELLED
                break
            changing_started = changing_started or not step.read_only
            outcome = await self._step("steps", step, len(self.plan.steps))
            outcomes.append(outcome)
            if outcome.status is StepStatus.CANCELLED:
                status = RunStatus.CANCELLED
                break
            if not outcome.ok and not step.continue_on_fail:
                status = RunStatus.FAILED
                break
        outcomes += [
            StepOutcome("steps", s.number, s.name, StepStatus.SKIPPED, 0.0)
            for s in self.plan.steps[len(outcomes) :]
        ]
        rollback: list[StepOutcome] = []
        skipped = status is RunStatus.FAILED and bool(self.plan.rollback) and not changing_started
        if status is RunStatus.FAILED and not skipped:
            # Best effort: every rollback step runs even if an earlier one failed, and a
            # cancel request does not stop a rollback halfway.
            for step in self.plan.rollback:
                rollback.append(await self._step("rollback", step, len(self.plan.rollback)))
        result = RunResult(
            self.plan.runbook,
            self.plan.digest,
            status,
            tuple(outcomes),
            tuple(rollback),
            rollback_skipped=skipped,
        )
        await self._emit(RunFinished(result))
        return result

    async def _step(self, phase: Phase, step: PlannedStep, total: int) -> StepOutcome:
        await self._emit(
            StepStarted(phase, step.number, total, step.name, step.describe(self.redact))
        )
        started = time.monotonic()
        try:
            status, output, error, exit_code = await self._action(phase, step)
        except Exception:
            log.exception("runbook %s step %s failed unexpectedly", self.plan.runbook, step.name)
            status, output, error, exit_code = StepStatus.FAILED, "", "internal error", None
        outcome = StepOutcome(
            phase=phase,
            number=step.number,
            name=step.name,
            status=status,
            duration_seconds=round(time.monotonic() - started, 3),
            output=output,
            error=self.redact(error) if error else None,
            exit_code=exit_code,
        )
        await self._emit(StepFinished(phase, total, outcome))
        return outcome

    async def _action(
        self, phase: Phase, step: PlannedStep
    ) -> tuple[StepStatus, str, str | None, int | None]:
        action = step.action
        if isinstance(action, ExecAction):
            return await self._exec(action)
        if isinstance(action, HttpAction):
            if self.executor.http is None:
                return StepStatus.FAILED, "", "http steps are not configured", None
            result = await run_http(
                action, client=self.executor.http, config=self.config, new_output=self._buffer
            )
            status = StepStatus.OK if result.ok else StepStatus.FAILED
            return status, result.output.text(self.redact), result.error, None
        if isinstance(action, PromqlAction):
            if self.executor.query is None:
                return StepStatus.FAILED, "", "Prometheus is not configured", None
            cancel = self._cancel_event(phase)
            verdict = await run_promql(action, query=self.executor.query, cancel=cancel)
            if verdict.cancelled:
                return StepStatus.CANCELLED, self.redact(verdict.output), verdict.error, None
            status = StepStatus.OK if verdict.ok else StepStatus.FAILED
            return status, self.redact(verdict.output), verdict.error, None
        if isinstance(action, WaitAction):
            if await _until_set(self._cancel_event(phase), action.seconds):
                return StepStatus.CANCELLED, "", "cancelled while waiting", None
            return StepStatus.OK, "", None, None
        return await self._manual(phase, step, action)

    async def _exec(self, action: ExecAction) -> tuple[StepStatus, str, str | None, int | None]:
        # The plan resolved argv[0] against the allowlist; check again here, so a Plan built
        # by other means still cannot start anything else.
        if action.argv[0] not in self.executor.executables.paths.values():
            return StepStatus.FAILED, "", f"{action.argv[0]} is not an allowed executable", None
        output = self._buffer()
        try:
            result = await run_process(
                action.argv,
                env={**self.executor.base_env, **action.env},
                cwd=self.config.working_directory,
                time_limit=action.timeout,
                output=output,
                kill_grace=self.config.kill_grace_seconds,
            )
        except OSError as error:
            return (
                StepStatus.FAILED,
                "",
                f"could not start {action.argv[0]}: {error.strerror}",
                None,
            )
        text = output.text(self.redact)
        if result.timed_out:
            reason = f"timed out after {action.timeout:g}s; its process group was killed"
            return StepStatus.TIMED_OUT, text, reason, None
        if result.exit_code != 0:
            return StepStatus.FAILED, text, f"exit status {result.exit_code}", result.exit_code
        return StepStatus.OK, text, None, 0

    async def _manual(
        self, phase: Phase, step: PlannedStep, action: ManualAction
    ) -> tuple[StepStatus, str, str | None, int | None]:
        if self.confirm is None:
            return StepStatus.FAILED, "", "nobody can confirm a manual step here", None
        request = ManualRequest(phase, step.number, step.name, action.prompt, action.timeout)
        asked = asyncio.ensure_future(self.confirm(request))
        stop = asyncio.ensure_future(self._cancel_event(phase).wait())
        try:
            done, _ = await asyncio.wait(
                {asked, stop}, timeout=action.timeout, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            for task in (asked, stop):
                task.cancel()
        if asked in done and asked.exception() is None:
            if asked.result():
                return StepStatus.OK, "confirmed", None, None
            return StepStatus.FAILED, "declined", "a person declined this step", None
        if stop in done:
            return StepStatus.CANCELLED, "", "cancelled while waiting for a person", None
        if asked in done:
            raise RuntimeError("the confirm callback failed") from asked.exception()
        return StepStatus.TIMED_OUT, "", f"nobody confirmed within {action.timeout:g}s", None

    def _cancel_event(self, phase: Phase) -> asyncio.Event:
        """What stops a waiting step: the caller's cancel for the run's steps; nothing for a
        rollback, which is how the system gets back to a known state."""
        return self.cancel if phase == "steps" else asyncio.Event()

    def _buffer(self) -> OutputBuffer:
        return OutputBuffer(self.config.output_limit_bytes)

    async def _emit(self, event: RunEvent) -> None:
        if self.on_event is None:
            return
        try:
            await self.on_event(event)
        except Exception:
            # A progress message that fails to update must not stop a half-done runbook.
            log.exception("runbook %s: progress callback failed", self.plan.runbook)


async def _until_set(event: asyncio.Event, seconds: float) -> bool:
    """Wait up to `seconds`; True if `event` was set first."""
    try:
        async with asyncio.timeout(seconds):
            await event.wait()
        return True
    except TimeoutError:
        return False
