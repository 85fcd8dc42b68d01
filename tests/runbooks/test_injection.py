"""Safety: a parameter value is data. It is rejected, or it reaches the declared program as one
inert argv element; it never runs another command, adds an argument or becomes an option."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from runbooks.actions import ExecAction
from runbooks.config import ExecutionConfig
from runbooks.loader import RunbookInvalid
from runbooks.plan import PlanError
from runbooks.results import RunStatus

from .conftest import executor, plan, runbook

# SQLite pass only: about argv and shells, not the store.
pytestmark = pytest.mark.sqlite

# A permissive pattern on purpose: these tests prove the executor is safe even when a runbook
# author allows anything; the hygiene rules and argv passing are what hold.
ECHO_ANYTHING = """
    name: echo-anything
    title: Echo
    risk: low
    parameters:
      - {name: message, type: string, pattern: '.*', max_length: 1024}
    steps:
      - {name: echo, kind: exec, argv: [/bin/echo, "{{message}}"]}
"""

SHELL_PAYLOADS = [
    "; touch {canary}",
    "$(touch {canary})",
    "`touch {canary}`",
    "| touch {canary}",
    "&& touch {canary}",
    "' ; touch {canary} ; '",
    '" ; touch {canary} ; "',
    "x > {canary}",
    "x --output={canary}",
    "{{{{message}}}} ; touch {canary}",
]

REJECTED = [
    pytest.param("a\ntouch /tmp/x", "control character", id="newline"),
    pytest.param("a\rb", "control character", id="carriage-return"),
    pytest.param("a\x00b", "control character", id="nul"),
    pytest.param("--help", "option", id="long-option"),
    pytest.param("-rf", "option", id="short-option"),
    pytest.param("../../etc/passwd", "'..'", id="path-traversal"),
    pytest.param("logs/../../../etc", "'..'", id="path-traversal-inside"),
    pytest.param("..\\windows", "'..'", id="backslash-traversal"),
    pytest.param("a" * 1025, "longer than", id="over-long"),
    pytest.param("", "empty", id="empty"),
]


@pytest.mark.parametrize("payload", SHELL_PAYLOADS)
async def test_shell_syntax_reaches_the_program_as_one_inert_argument(
    tmp_path: Path, payload: str
) -> None:
    canary = tmp_path / "canary"
    value = payload.format(canary=canary)
    runner = executor(tmp_path)
    planned = plan(runner, runbook(ECHO_ANYTHING), message=value)

    action = planned.steps[0].action
    assert isinstance(action, ExecAction)
    assert action.argv == ("/bin/echo", value)

    result = await runner.run(planned)

    assert result.status is RunStatus.SUCCEEDED
    # echo printed exactly the value: one argument, nothing expanded, nothing else started.
    assert result.steps[0].output == value + "\n"
    assert not canary.exists()
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize(("value", "reason"), REJECTED)
def test_unsafe_values_are_rejected_before_anything_runs(
    tmp_path: Path, value: str, reason: str
) -> None:
    with pytest.raises(PlanError) as error:
        plan(executor(tmp_path), runbook(ECHO_ANYTHING), message=value)
    assert reason in str(error.value)


@pytest.mark.parametrize(
    "value", ["; rm -rf /", "$(id)", "`id`", "a b", "x|y", "x&y", "it's", "a*", "{x}", "~root"]
)
def test_the_default_pattern_refuses_shell_characters(tmp_path: Path, value: str) -> None:
    book = runbook(
        """
        name: default-pattern
        title: Default pattern
        risk: low
        parameters: [{name: target, type: string}]
        steps: [{name: echo, kind: exec, argv: [/bin/echo, "{{target}}"]}]
        """
    )
    with pytest.raises(PlanError, match="does not match"):
        plan(executor(tmp_path), book, target=value)


def test_a_value_inside_an_argument_stays_inside_it(tmp_path: Path) -> None:
    book = runbook(
        """
        name: inside
        title: Inside
        risk: low
        parameters: [{name: name, type: string, pattern: '.*'}]
        steps: [{name: echo, kind: exec, argv: [/bin/echo, "--label={{name}}", end]}]
        """
    )
    planned = plan(executor(tmp_path), book, name="x --evil y")
    action = planned.steps[0].action
    assert isinstance(action, ExecAction)
    assert action.argv == ("/bin/echo", "--label=x --evil y", "end")


def test_typed_parameters_check_their_values(tmp_path: Path) -> None:
    book = runbook(
        """
        name: typed
        title: Typed
        risk: low
        parameters:
          - {name: replicas, type: int, minimum: 1, maximum: 10}
          - {name: mode, type: enum, values: [fast, safe]}
          - {name: service, type: service}
          - {name: window, type: duration, minimum: 5m, maximum: 2h}
        steps:
          - name: echo
            kind: exec
            argv: [/bin/echo, "{{replicas}}", "{{mode}}", "{{service}}", "{{window}}"]
        """
    )
    runner = executor(tmp_path)
    good = plan(runner, book, replicas=" 3", mode="safe", service="checkout", window="90m")
    action = good.steps[0].action
    assert isinstance(action, ExecAction)
    assert action.argv[1:] == ("3", "safe", "checkout", "1h30m")

    with pytest.raises(PlanError) as error:
        plan(runner, book, replicas="11", mode="rm", service="nope", window="3h", extra="1")
    problems = "\n".join(error.value.problems)
    for expected in (
        "unknown parameter 'extra'",
        "replicas: '11' is outside 1..10",
        "mode: 'rm' is not one of fast, safe",
        "service: 'nope' is not a service in the catalog",
        "window: '3h' is outside 5m..2h",
    ):
        assert expected in problems
    with pytest.raises(PlanError, match="not a whole number"):
        plan(runner, book, replicas="3; id", mode="safe", service="checkout", window="5m")


@pytest.mark.parametrize("shell", ["sh", "/bin/bash", "/usr/bin/dash", "busybox"])
def test_a_shell_is_not_an_allowed_executable(tmp_path: Path, shell: str) -> None:
    """A step whose program is a shell can never run, so the runbook itself is refused."""
    with pytest.raises(RunbookInvalid, match="is a shell"):
        runbook(
            f"""
            name: shell
            title: Shell
            risk: low
            steps: [{{name: sh, kind: exec, argv: [{shell}, -c, "touch canary"]}}]
            """
        )
    assert not (tmp_path / "canary").exists()


@pytest.mark.parametrize("shell", ["sh", "/bin/sh", "bash", "/usr/bin/dash", "busybox"])
def test_a_shell_cannot_be_allowlisted(shell: str) -> None:
    with pytest.raises(ValueError, match="is a shell"):
        ExecutionConfig(executables=[shell])


def test_a_program_not_on_the_allowlist_is_refused_even_by_absolute_path(tmp_path: Path) -> None:
    book = runbook(
        """
        name: touch
        title: Touch
        risk: low
        steps: [{name: touch, kind: exec, argv: [/usr/bin/touch, canary]}]
        """
    )
    with pytest.raises(PlanError, match="not an allowed executable"):
        plan(executor(tmp_path), book)


def test_the_program_cannot_come_from_a_parameter() -> None:
    with pytest.raises(RunbookInvalid, match="argv\\[0\\] must be a literal"):
        runbook(
            """
            name: templated-program
            title: Templated program
            risk: low
            parameters: [{name: tool, type: string}]
            steps: [{name: run, kind: exec, argv: ["{{tool}}", x]}]
            """
        )


def test_a_step_may_not_set_loader_variables() -> None:
    with pytest.raises(RunbookInvalid, match="may not set LD_PRELOAD"):
        runbook(
            """
            name: preload
            title: Preload
            risk: low
            steps:
              - {name: run, kind: exec, argv: [/bin/echo], env: {LD_PRELOAD: /tmp/evil.so}}
            """
        )
