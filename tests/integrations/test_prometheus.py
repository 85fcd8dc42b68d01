"""The Prometheus client and a runbook promql step against a real Prometheus on loopback.

Prometheus scrapes nothing; recording rules make the data: `lookout_test_up` is always 1, and
`lookout_test_flip` alternates, 0 for three seconds then 1 for three, so a verify step can be
started while its condition is false and seen to pass once it turns true.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
import pytest

from integrations.prometheus import PrometheusClient, PrometheusError
from runbooks.config import ExecutionConfig
from runbooks.executor import Executor
from runbooks.loader import parse_runbook
from runbooks.results import RunStatus
from tests.conftest import free_port
from tests.integrations.prometheus_process import PROMETHEUS, SKIP_REASON, running_prometheus

pytestmark = pytest.mark.skipif(PROMETHEUS is None, reason=SKIP_REASON)


@dataclass(frozen=True)
class RunningPrometheus:
    url: str


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningPrometheus]:
    folder = tmp_path_factory.mktemp("prometheus")
    (folder / "rules.yml").write_text(
        "groups:\n"
        "  - name: lookout-test\n"
        "    interval: 1s\n"
        "    rules:\n"
        "      - record: lookout_test_up\n"
        "        expr: vector(1)\n"
        "      - record: lookout_test_flip\n"
        "        expr: vector((time() % 6) >= bool 3)\n"
    )
    config = "global:\n  evaluation_interval: 1s\nrule_files: [rules.yml]\nscrape_configs: []\n"

    def ready(url: str) -> bool:
        return httpx.get(f"{url}/-/ready", timeout=1).status_code == 200

    with running_prometheus(folder, config, ready, waiting_for="become ready") as url:
        yield RunningPrometheus(url=url)


@pytest.fixture
async def client(prometheus: RunningPrometheus) -> AsyncIterator[PrometheusClient]:
    async with httpx.AsyncClient() as http:
        yield PrometheusClient(prometheus.url, http)


async def test_instant_query_of_a_vector_and_a_scalar(client: PrometheusClient) -> None:
    [vector] = await client.query("vector(2)")
    assert (vector.labels, vector.value) == ({}, 2.0)
    assert abs(vector.timestamp - time.time()) < 60
    [scalar] = await client.query("scalar(vector(3))")
    assert (scalar.labels, scalar.value) == ({}, 3.0)


async def wait_for(client: PrometheusClient, expr: str, value: float) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if [s.value for s in await client.query(expr)] == [value]:
            return
        await asyncio.sleep(0.1)
    pytest.fail(f"{expr} never became {value}")


async def test_a_recording_rule_is_queried(client: PrometheusClient) -> None:
    await wait_for(client, "lookout_test_up", 1.0)
    [sample] = await client.query("lookout_test_up")
    assert sample.labels == {"__name__": "lookout_test_up"}
    assert sample.value == 1.0


async def test_a_bad_query_raises_with_prometheus_reason(client: PrometheusClient) -> None:
    with pytest.raises(PrometheusError, match=r"query failed: .*parse error"):
        await client.query("sum(")


async def test_an_unreachable_prometheus_raises() -> None:
    async with httpx.AsyncClient() as http:
        client = PrometheusClient(f"http://127.0.0.1:{free_port()}", http)
        with pytest.raises(PrometheusError, match="unreachable"):
            await client.query("up")


async def test_a_promql_step_waits_until_its_condition_becomes_true(
    client: PrometheusClient,
) -> None:
    book = parse_runbook(
        """
name: verify-flip
title: Verify the flip
risk: low
steps:
  - name: flip is on
    kind: promql
    query: lookout_test_flip
    above: 0.5
    poll_seconds: 0.25
    timeout_seconds: 30
""",
        "verify-flip.yaml",
    )
    runner = Executor(ExecutionConfig(), environ={}, query=client.query)
    planned = runner.plan(book, {}, services=None, now=datetime.now(UTC))
    await wait_for(client, "lookout_test_flip", 0.0)  # start while the condition is false

    result = await runner.run(planned)

    assert result.status is RunStatus.SUCCEEDED, result.steps[0].error
    polls = int(result.steps[0].output.split("after ")[1].split(" poll")[0])
    assert polls >= 2, result.steps[0].output
    assert result.steps[0].output.endswith('{__name__="lookout_test_flip"} 1')


async def test_a_promql_step_fails_when_its_condition_stays_false(
    client: PrometheusClient,
) -> None:
    book = parse_runbook(
        """
name: verify-never
title: Verify a condition that never holds
risk: low
steps:
  - {name: never, kind: promql, query: lookout_test_up, below: 0.5, poll_seconds: 0.2,
     timeout_seconds: 1}
""",
        "verify-never.yaml",
    )
    runner = Executor(ExecutionConfig(), environ={}, query=client.query)

    result = await runner.run(runner.plan(book, {}, services=None, now=datetime.now(UTC)))

    assert result.status is RunStatus.FAILED
    assert result.steps[0].error == (
        'condition not met within 1s; last: {__name__="lookout_test_up"} 1'
    )
