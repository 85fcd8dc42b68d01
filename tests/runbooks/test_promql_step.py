"""promql steps against an injected query function: polling, conditions, errors, cancel."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

import pytest

from integrations.prometheus import Sample
from runbooks.actions import PromqlAction
from runbooks.executor import Executor
from runbooks.promql_step import condition_holds
from runbooks.results import RunStatus, StepStatus

from .conftest import config, plan, runbook

VERIFY = """
    name: verify
    title: Verify
    risk: low
    parameters: [{name: service, type: service}]
    steps:
      - name: error rate under 1 %
        kind: promql
        query: 'sum(rate(errors_total{service="{{service}}"}[5m]))'
        below: 0.01
        poll_seconds: 0.05
        timeout_seconds: 2
"""


class ScriptedPrometheus:
    """Answers each query with the next value of a script (None = no sample, an exception is
    raised); the last answer repeats."""

    def __init__(self, *answers: float | Exception | None) -> None:
        self.answers = list(answers)
        self.queries: list[str] = []

    async def query(self, expr: str) -> Sequence[Sample]:
        self.queries.append(expr)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return [] if answer is None else [Sample({"service": "checkout"}, answer, 0.0)]


def make_executor(tmp_path: Path, prometheus: ScriptedPrometheus) -> Executor:
    return Executor(config(tmp_path), environ={}, query=prometheus.query)


async def test_polls_until_the_condition_holds(tmp_path: Path) -> None:
    prometheus = ScriptedPrometheus(0.2, RuntimeError("connection refused"), None, 0.005)
    runner = make_executor(tmp_path, prometheus)

    result = await runner.run(plan(runner, runbook(VERIFY), service="checkout"))

    assert result.status is RunStatus.SUCCEEDED
    assert prometheus.queries[0] == 'sum(rate(errors_total{service="checkout"}[5m]))'
    assert len(prometheus.queries) == 4
    assert "condition met after 4 poll(s)" in result.steps[0].output


async def test_fails_at_the_timeout_with_the_last_value(tmp_path: Path) -> None:
    prometheus = ScriptedPrometheus(0.3)
    runner = make_executor(tmp_path, prometheus)

    result = await runner.run(plan(runner, runbook(VERIFY), service="checkout"))

    assert result.steps[0].status is StepStatus.FAILED
    assert result.steps[0].error == ('condition not met within 2s; last: {service="checkout"} 0.3')


async def test_cancel_stops_the_polling(tmp_path: Path) -> None:
    runner = make_executor(tmp_path, ScriptedPrometheus(0.3))
    cancel = asyncio.Event()
    asyncio.get_running_loop().call_later(0.2, cancel.set)

    result = await runner.run(plan(runner, runbook(VERIFY), service="checkout"), cancel=cancel)

    assert result.status is RunStatus.CANCELLED
    assert result.steps[0].status is StepStatus.CANCELLED


async def test_without_prometheus_the_step_fails_clearly(tmp_path: Path) -> None:
    runner = Executor(config(tmp_path), environ={})
    result = await runner.run(plan(runner, runbook(VERIFY), service="checkout"))
    assert result.steps[0].error == "Prometheus is not configured"


def action(**condition: object) -> PromqlAction:
    values: dict[str, object] = {"below": None, "above": None, "empty": False}
    values.update(condition)
    return PromqlAction(query="q", poll_seconds=1, timeout=1, **values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("condition", "values", "holds"),
    [
        ({}, [], False),
        ({}, [0.0], True),
        ({"below": 1}, [0.5, 0.9], True),
        ({"below": 1}, [0.5, 1.0], False),
        ({"above": 2}, [3.0], True),
        ({"above": 2, "below": 4}, [4.5], False),
        ({"empty": True}, [], True),
        ({"empty": True}, [1.0], False),
    ],
)
def test_conditions(condition: dict[str, object], values: list[float], holds: bool) -> None:
    samples = [Sample({}, value) for value in values]
    assert condition_holds(action(**condition), samples) is holds
