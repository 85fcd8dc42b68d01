"""Every operation of `/openapi.json`, fuzzed by schemathesis against the running Lookout.

The schema is the app's own (the raw-body routes declare theirs in bot/openapi_bodies.py).
Cases are generated from it, valid ones and ones that break it (wrong types, missing
fields, extra characters), signed as their real senders would sign them
(tests/bot/fuzz_world.py), and sent over loopback to Lookout on PostgreSQL, whose column
types refuse more than SQLite's. For each: no 5xx; a webhook's refusal is a 4xx with a
`detail` that says why; and a refused body writes nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.generation.modes import GenerationMode

from tests.bot.fuzz_world import FuzzWorld, fuzz_world
from tests.conftest import postgres_skip_reason

# Once per run, in the first pass: the fuzzed Lookout stores on PostgreSQL whenever it answers
# (tests/bot/fuzz_world.py), so a second pass would repeat the same run.
pytestmark = pytest.mark.sqlite

# (method, path) of every operation; the Server-Sent Events stream never ends, so it is
# exercised by the console tests instead.
OPERATIONS = [
    ("POST", "/webhooks/alertmanager"),
    ("POST", "/webhooks/changes"),
    ("POST", "/webhooks/changes/github"),
    ("POST", "/webhooks/changes/argocd"),
    ("POST", "/webhooks/pagerduty"),
    ("POST", "/slack/events"),
    ("POST", "/api/messages"),
    ("POST", "/console/api/command"),
    ("GET", "/console/api/messages"),
    ("GET", "/console/api/incidents"),
    ("GET", "/console/api/channels"),
    ("GET", "/console/api/session"),
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
]
SKIPPED = {("GET", "/console/api/stream")}
# Tables each webhook writes: a refused body must leave them as they were.
WRITES = {
    "/webhooks/alertmanager": ("alerts", "incidents"),
    "/webhooks/changes": ("changes",),
    "/webhooks/changes/github": ("changes",),
    "/webhooks/changes/argocd": ("changes",),
    "/webhooks/pagerduty": ("incident_events", "audit_log"),
}
EXAMPLES = 100
# Operations that take input; the others have nothing to break, so no negative cases.
TAKES_INPUT = {(m, p) for m, p in OPERATIONS if m == "POST"} | {
    ("GET", "/console/api/messages"),
    ("GET", "/console/api/incidents"),
}
CASES = [
    (method, path, mode)
    for method, path in OPERATIONS
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    if mode is GenerationMode.POSITIVE or (method, path) in TAKES_INPUT
]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FuzzWorld]:
    import asyncio

    postgres = asyncio.run(postgres_skip_reason()) is None
    with fuzz_world(tmp_path_factory.mktemp("fuzz"), postgres=postgres) as running:
        yield running


@pytest.fixture(scope="module")
def schema(world: FuzzWorld) -> Any:
    document = requests.get(f"{world.url}/openapi.json", timeout=10).json()
    loaded = schemathesis.openapi.from_dict(document)
    return loaded


def test_the_schema_lists_every_route(schema: Any) -> None:
    listed = {
        (operation.method.upper(), operation.path)
        for result in schema.get_all_operations()
        for operation in [result.ok()]
    }
    assert listed == set(OPERATIONS) | SKIPPED
    for method, path in OPERATIONS:
        if method == "POST":
            assert schema[path][method].body, f"{path} declares no request body"


@pytest.mark.parametrize(("method", "path", "mode"), CASES)
def test_no_generated_request_hurts_lookout(
    world: FuzzWorld,
    schema: Any,
    method: str,
    path: str,
    mode: GenerationMode,
) -> None:
    operation = schema[path][method]
    session = world.session()
    tables = WRITES.get(path, ())

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def exchange(case: Any) -> None:
        before = world.counts() if tables else {}
        response = case.call(base_url=world.url, session=session, timeout=30)
        where = f"{method} {path} -> {response.status_code}: {response.text[:300]}"
        assert response.status_code < 500, where
        if response.status_code >= 400 and path.startswith("/webhooks/"):
            assert response.json().get("detail"), where
            after = world.counts()
            assert {t: after[t] for t in tables} == {t: before[t] for t in tables}, where

    exchange()
