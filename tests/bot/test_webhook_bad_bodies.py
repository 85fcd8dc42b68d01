"""Bodies no sender would send, on every endpoint that takes one: a 4xx with the reason, and
nothing stored. Requests are signed as their senders sign them (tests/bot/fuzz_world.py), so
the body itself is what is refused; Lookout runs on PostgreSQL when it answers."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from urllib.parse import quote

import pytest
import requests

from bot.bodies import MAX_BODY
from tests.bot.fuzz_world import FuzzWorld, fuzz_world
from tests.conftest import postgres_skip_reason

# Once per run, in the first pass: this Lookout stores on PostgreSQL whenever it answers
# (tests/bot/fuzz_world.py), so a second pass would repeat the same run.
pytestmark = pytest.mark.sqlite

JSON_ENDPOINTS = [
    "/webhooks/alertmanager",
    "/webhooks/changes",
    "/webhooks/changes/github",
    "/webhooks/changes/argocd",
    "/webhooks/pagerduty",
    "/api/messages",
    "/slack/events",
]
NESTED = b'{"a":' * 100_000 + b"1" + b"}" * 100_000


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FuzzWorld]:
    postgres = asyncio.run(postgres_skip_reason()) is None
    with fuzz_world(tmp_path_factory.mktemp("bad-bodies"), postgres=postgres) as running:
        yield running


def post(world: FuzzWorld, path: str, body: bytes, **headers: str) -> requests.Response:
    headers = {"Content-Type": "application/json", "X-GitHub-Event": "deployment", **headers}
    return world.session().post(f"{world.url}{path}", data=body, headers=headers, timeout=30)


def refused_with_reason(response: requests.Response, *codes: int) -> str:
    assert response.status_code in codes, (response.status_code, response.text[:300])
    answer = response.json()
    reason = answer.get("detail") or answer.get("error")
    assert isinstance(reason, str) and reason, answer
    return reason


@pytest.mark.parametrize("path", JSON_ENDPOINTS)
@pytest.mark.parametrize(
    ("name", "body", "codes"),
    [
        ("oversized", b'{"pad": "' + b"x" * (MAX_BODY + 1) + b'"}', (413,)),
        ("deeply nested", NESTED, (400,)),
        ("not UTF-8", b'{"alerts": "\xff\xfe\xb2"}', (400,)),
        ("an array", b"[1, 2, 3]", (400, 422)),
        ("a string", b'"alerts"', (400, 422)),
        ("a number", b"42", (400, 422)),
        ("null", b"null", (400, 422)),
        ("empty", b"", (400, 422)),
    ],
)
def test_a_bad_body_is_refused_with_its_reason_and_stores_nothing(
    world: FuzzWorld, path: str, name: str, body: bytes, codes: tuple[int, ...]
) -> None:
    before = world.counts()
    refused_with_reason(post(world, path, body), *codes)
    assert world.counts() == before, name


@pytest.mark.parametrize(
    ("path", "document"),
    [
        ("/webhooks/alertmanager", {"alerts": 5}),
        ("/webhooks/alertmanager", {"alerts": [{"labels": [1], "startsAt": 3}]}),
        ("/webhooks/changes", {"id": 1, "kind": ["deployment"], "started_at": {}}),
        ("/webhooks/changes/github", {"repository": "lookout", "deployment": []}),
        ("/webhooks/changes/argocd", {"app": [1]}),
        ("/webhooks/pagerduty", {"event": "incident.resolved"}),
        ("/api/messages", {"type": 5, "from": "me"}),
        # No sender or conversation: the turn once failed reading them, a 500.
        ("/api/messages", {"type": "message", "text": "help", "channelId": "msteams"}),
        ("/api/messages", {"type": "message", "from": {"id": "29:1"}, "conversation": {}}),
        ("/slack/events", {"type": "event_callback", "event": 5}),
        ("/slack/events", {"type": "event_callback", "event": {"type": ["app_mention"]}}),
        ("/slack/events", {"type": "block_actions", "team": 7, "actions": "ack"}),
    ],
)
def test_fields_of_the_wrong_type_are_refused_with_a_reason(
    world: FuzzWorld, path: str, document: object
) -> None:
    before = world.counts()
    refused_with_reason(post(world, path, json.dumps(document).encode()), 400, 422)
    assert world.counts() == before


def test_a_slack_form_whose_payload_is_not_an_object_is_refused(world: FuzzWorld) -> None:
    for payload in ("[1]", "not json", '{"actions": 3}'):
        body = "payload=" + quote(payload)
        response = post(
            world,
            "/slack/events",
            body.encode(),
            **{"Content-Type": "application/x-www-form-urlencoded"},
        )
        refused_with_reason(response, 400)


def test_a_count_past_what_the_database_holds_is_refused_and_nothing_stored(
    world: FuzzWorld,
) -> None:
    """`truncatedAlerts` of 2**31 once reached PostgreSQL's INTEGER column: a 500."""
    document = {
        "truncatedAlerts": 2**31,
        "alerts": [
            {
                "labels": {"alertname": "Overflow", "service": "checkout"},
                "startsAt": "2026-11-30T12:00:00Z",
            }
        ],
    }
    before = world.counts()
    reason = refused_with_reason(
        post(world, "/webhooks/alertmanager", json.dumps(document).encode()), 422
    )
    assert "truncatedAlerts" in reason
    assert world.counts() == before
