"""The executor against real programs: output, environment, timeouts, rollback, cancellation,
manual steps and redaction."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest

from runbooks.executor import Executor
from runbooks.results import (
    ManualRequest,
    RunEvent,
    RunFinished,
    RunStatus,
    StepFinished,
    StepStarted,
    StepStatus,
)

from .conftest import NOW, PYTHON, config, executor, plan, process_gone, runbook


async def test_echo_runs_and_its_output_is_captured(tmp_path: Path) -> None:
    book = runbook(
        """
        name: echo
        title: Echo
        risk: low
        parameters: [{name: word, type: string}]
        steps: [{name: say, kind: exec, argv: [echo, hello, "{{word}}"]}]
        """
    )
    runner = executor(tmp_path)
    planned = plan(runner, book, word="world")
    assert planned.describe(planned.redactor(runner.config)) == ["1. say: /bin/echo hello world"]

    result = await runner.run(planned)

    assert result.status is RunStatus.SUCCEEDED
    [outcome] = result.steps
    assert outcome.status is StepStatus.OK
    assert outcome.exit_code == 0
    assert outcome.output == "hello world\n"
    assert outcome.excerpt().text == "hello world"


async def test_env_shows_only_allowlisted_variables(tmp_path: Path) -> None:
    book = runbook(
        """
        name: show-env
        title: Show env
        risk: low
        parameters: [{name: greeting, type: string}]
        steps:
          - {name: env, kind: exec, argv: [/usr/bin/env], env: {GREETING: "{{greeting}}"}}
        """
    )
    environ = {
        "PATH": os.environ["PATH"],
        "LANG": "C.UTF-8",
        "HOME": "/root",
        "AWS_SECRET_ACCESS_KEY": "do-not-leak-this",
        "SLACK_BOT_TOKEN": "xoxb-not-for-steps",
    }
    allowed = ["PATH", "LANG", "GREETING"]
    runner = Executor(config(tmp_path, env_allowlist=allowed), environ=environ)

    result = await runner.run(plan(runner, book, greeting="hi"))

    lines = result.steps[0].output.splitlines()
    assert sorted(line.split("=", 1)[0] for line in lines) == ["GREETING", "LANG", "PATH"]
    assert "GREETING=hi" in lines
    assert "do-not-leak-this" not in result.steps[0].output


def test_a_step_variable_must_be_allowlisted(tmp_path: Path) -> None:
    book = runbook(
        """
        name: env-not-allowed
        title: Env
        risk: low
        steps: [{name: env, kind: exec, argv: [/usr/bin/env], env: {EDITOR: vim}}]
        """
    )
    with pytest.raises(ValueError, match="env EDITOR is not allowed"):
        plan(executor(tmp_path), book)


async def test_a_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    # The program starts a child `sleep`, prints its pid and waits; killing only the program
    # would leave the sleep running.
    script = (
        "import subprocess, sys, time\n"
        "child = subprocess.Popen(['sleep', '60'])\n"
        "print(child.pid, flush=True)\n"
        "time.sleep(60)\n"
    )
    book = runbook(
        f"""
        name: hang
        title: Hang
        risk: low
        steps:
          - name: hang
            kind: exec
            argv: [{PYTHON}, -c, {script!r}]
            timeout_seconds: 1.5
        """
    )
    runner = executor(tmp_path, kill_grace_seconds=0.5)
    started = time.monotonic()

    result = await runner.run(plan(runner, book))

    assert time.monotonic() - started < 10
    [outcome] = result.steps
    assert outcome.status is StepStatus.TIMED_OUT
    assert "process group was killed" in (outcome.error or "")
    child = int(outcome.output.split()[0])
    for _ in range(50):
        if process_gone(child):
            break
        await asyncio.sleep(0.1)
    assert process_gone(child), f"the child sleep {child} survived the timeout"
    assert result.status is RunStatus.FAILED


async def test_output_is_capped(tmp_path: Path) -> None:
    book = runbook(
        f"""
        name: chatty
        title: Chatty
        risk: low
        steps:
          - {{name: chatty, kind: exec, argv: [{PYTHON}, -c, "print('x' * 200000)"]}}
        """
    )
    runner = executor(tmp_path, output_limit_bytes=1000)

    result = await runner.run(plan(runner, book))

    output = result.steps[0].output
    assert result.steps[0].status is StepStatus.OK
    assert len(output) < 1100
    assert output.startswith("x" * 1000)
    assert "output truncated: 200001 bytes, 1000 kept" in output


async def test_secrets_are_redacted_from_output_and_plan(tmp_path: Path) -> None:
    book = runbook(
        f"""
        name: secret
        title: Secret
        risk: low
        parameters:
          - {{name: token, type: string, secret: true}}
        steps:
          - name: leak
            kind: exec
            argv:
              - {PYTHON}
              - -c
              - "import os; print('token is', os.environ['API_TOKEN']); print('password=hunter2x')"
            env: {{API_TOKEN: "{{{{token}}}}"}}
        """
    )
    runner = executor(tmp_path, env_allowlist=["PATH", "API_TOKEN"])
    planned = plan(runner, book, token="s3cr3t-value-42")
    assert planned.shown_parameters() == {"token": "***"}

    result = await runner.run(planned)

    output = result.steps[0].output
    assert "s3cr3t-value-42" not in output
    assert "hunter2x" not in output
    assert "token is ***" in output
    assert "password=***" in output


def test_a_secret_parameter_may_not_appear_in_argv() -> None:
    with pytest.raises(ValueError, match="secret parameter 'token' in argv"):
        runbook(
            """
            name: secret-argv
            title: Secret in argv
            risk: low
            parameters: [{name: token, type: string, secret: true}]
            steps: [{name: leak, kind: exec, argv: [/bin/echo, "--token={{token}}"]}]
            """
        )


ROLLBACK = """
    name: with-rollback
    title: With rollback
    risk: low
    steps:
      - {name: first, kind: exec, argv: [/bin/echo, one]}
      - {name: may fail, kind: exec, argv: [/usr/bin/false], continue_on_fail: true}
      - {name: fails, kind: exec, argv: [/usr/bin/false]}
      - {name: never, kind: exec, argv: [/bin/echo, never]}
    rollback:
      - {name: undo one, kind: exec, argv: [/usr/bin/false]}
      - {name: undo two, kind: exec, argv: [/bin/echo, undone]}
"""


async def test_a_failing_step_runs_the_rollback_best_effort(tmp_path: Path) -> None:
    runner = executor(tmp_path)
    events: list[RunEvent] = []

    async def record(event: RunEvent) -> None:
        events.append(event)

    result = await runner.run(plan(runner, runbook(ROLLBACK)), on_event=record)

    assert result.status is RunStatus.FAILED
    assert [o.status for o in result.steps] == [
        StepStatus.OK,
        StepStatus.FAILED,  # continue_on_fail: the run went on
        StepStatus.FAILED,
        StepStatus.SKIPPED,
    ]
    assert result.steps[2].error == "exit status 1"
    # The first rollback step failed; the second still ran.
    assert [o.status for o in result.rollback] == [StepStatus.FAILED, StepStatus.OK]
    assert result.rollback[1].output == "undone\n"
    assert not result.rolled_back
    started = [(e.phase, e.number, e.total) for e in events if isinstance(e, StepStarted)]
    assert started == [
        ("steps", 1, 4),
        ("steps", 2, 4),
        ("steps", 3, 4),
        ("rollback", 1, 2),
        ("rollback", 2, 2),
    ]
    finished = [e.outcome.name for e in events if isinstance(e, StepFinished)]
    assert finished == ["first", "may fail", "fails", "undo one", "undo two"]
    assert isinstance(events[-1], RunFinished) and events[-1].result == result


async def test_continue_on_fail_lets_the_run_succeed(tmp_path: Path) -> None:
    book = runbook(
        """
        name: soft-fail
        title: Soft fail
        risk: low
        steps:
          - {name: may fail, kind: exec, argv: [/usr/bin/false], continue_on_fail: true}
          - {name: after, kind: exec, argv: [/bin/echo, after]}
        rollback:
          - {name: undo, kind: exec, argv: [/bin/echo, undo]}
        """
    )
    runner = executor(tmp_path)

    result = await runner.run(plan(runner, book))

    assert result.status is RunStatus.SUCCEEDED
    assert [o.status for o in result.steps] == [StepStatus.FAILED, StepStatus.OK]
    assert result.rollback == ()


CANCELLABLE = """
    name: cancellable
    title: Cancellable
    risk: low
    steps:
      - {name: first, kind: exec, argv: [/bin/echo, one]}
      - {name: pause, kind: wait, seconds: 30}
      - {name: last, kind: exec, argv: [/bin/echo, three]}
    rollback:
      - {name: undo, kind: exec, argv: [/bin/echo, undo]}
"""


async def test_cancel_stops_between_steps_without_rollback(tmp_path: Path) -> None:
    runner = executor(tmp_path)
    cancel = asyncio.Event()

    async def cancel_after_first(event: RunEvent) -> None:
        if isinstance(event, StepFinished) and event.outcome.number == 1:
            cancel.set()

    result = await runner.run(
        plan(runner, runbook(CANCELLABLE)), on_event=cancel_after_first, cancel=cancel
    )

    assert result.status is RunStatus.CANCELLED
    assert [o.status for o in result.steps] == [
        StepStatus.OK,
        StepStatus.SKIPPED,
        StepStatus.SKIPPED,
    ]
    assert result.rollback == ()


async def test_cancel_interrupts_a_wait(tmp_path: Path) -> None:
    runner = executor(tmp_path)
    cancel = asyncio.Event()
    asyncio.get_running_loop().call_later(0.3, cancel.set)
    started = time.monotonic()

    result = await runner.run(plan(runner, runbook(CANCELLABLE)), cancel=cancel)

    assert time.monotonic() - started < 5
    assert result.status is RunStatus.CANCELLED
    assert [o.status for o in result.steps] == [
        StepStatus.OK,
        StepStatus.CANCELLED,
        StepStatus.SKIPPED,
    ]


async def test_cancel_does_not_stop_a_rollback(tmp_path: Path) -> None:
    book = runbook(
        """
        name: rollback-waits
        title: Rollback waits
        risk: low
        steps: [{name: fails, kind: exec, argv: [/usr/bin/false]}]
        rollback:
          - {name: settle, kind: wait, seconds: 0.3}
          - {name: undo, kind: exec, argv: [/bin/echo, undone]}
        """
    )
    runner = executor(tmp_path)
    cancel = asyncio.Event()

    async def cancel_during_rollback(event: RunEvent) -> None:
        if isinstance(event, StepStarted) and event.phase == "rollback":
            cancel.set()

    result = await runner.run(plan(runner, book), on_event=cancel_during_rollback, cancel=cancel)

    assert result.status is RunStatus.FAILED
    assert [o.status for o in result.rollback] == [StepStatus.OK, StepStatus.OK]
    assert result.rollback[0].duration_seconds >= 0.29


MANUAL = """
    name: manual
    title: Manual
    risk: low
    parameters: [{name: cluster, type: string}]
    steps:
      - {name: fence, kind: manual, prompt: "Fence the old primary of {{cluster}}"}
      - {name: after, kind: exec, argv: [/bin/echo, after]}
    rollback:
      - {name: undo, kind: exec, argv: [/bin/echo, undo]}
"""


async def test_a_manual_step_asks_the_caller(tmp_path: Path) -> None:
    runner = executor(tmp_path)
    asked: list[ManualRequest] = []

    async def confirm(request: ManualRequest) -> bool:
        asked.append(request)
        return True

    result = await runner.run(plan(runner, runbook(MANUAL), cluster="main"), confirm=confirm)

    assert result.status is RunStatus.SUCCEEDED
    assert [r.prompt for r in asked] == ["Fence the old primary of main"]


async def test_a_declined_manual_step_fails_and_rolls_back(tmp_path: Path) -> None:
    runner = executor(tmp_path)

    async def decline(request: ManualRequest) -> bool:
        return False

    result = await runner.run(plan(runner, runbook(MANUAL), cluster="main"), confirm=decline)

    assert result.status is RunStatus.FAILED
    assert result.steps[0].error == "a person declined this step"
    assert result.rolled_back


async def test_a_manual_step_without_anyone_to_ask_fails(tmp_path: Path) -> None:
    runner = executor(tmp_path)
    result = await runner.run(plan(runner, runbook(MANUAL), cluster="main"))
    assert result.steps[0].error == "nobody can confirm a manual step here"


async def test_a_broken_progress_callback_does_not_stop_the_run(tmp_path: Path) -> None:
    runner = executor(tmp_path)

    async def broken(event: RunEvent) -> None:
        raise RuntimeError("chat is down")

    result = await runner.run(plan(runner, runbook(ROLLBACK)), on_event=broken)
    assert result.steps[0].status is StepStatus.OK


def test_the_plan_digest_is_stable_and_changes_with_the_plan(tmp_path: Path) -> None:
    runner = executor(tmp_path)
    book = runbook(MANUAL)
    first = plan(runner, book, cluster="main")
    assert plan(runner, book, cluster="main").digest == first.digest
    assert plan(runner, book, cluster="other").digest != first.digest
    assert runner.plan(book, {"cluster": "main"}, services=None, now=NOW).digest == first.digest
