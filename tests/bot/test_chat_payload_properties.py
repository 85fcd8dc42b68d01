"""Slack and Teams payloads from generated input: mutations of the recorded payloads of
../shared/fixtures and arbitrary bytes. What `/slack/events` lets through to Bolt is a body
Bolt can read; Teams activities that deserialize give their command text, actor and keys
without raising."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import pytest
from botbuilder.schema import Activity
from hypothesis import given, settings
from hypothesis import strategies as st
from slack_bolt.request.internals import parse_body

from bot.slack.requests import slack_body_problem
from bot.teams import activities
from tests.conftest import FIXTURES
from tests.mutations import SETTINGS, mutated

SLACK = [
    json.loads((FIXTURES / "slack" / name).read_text())
    for name in (
        "bolt_app_mention_event_callback.json",
        "bolt_block_actions_payload.json",
        "bolt_global_shortcut_payload.json",
        "bolt_url_verification.json",
    )
    if (FIXTURES / "slack" / name).is_file()
]
TEAMS = [
    body if "body" not in (body := json.loads(path.read_text())) else body["body"]
    for path in sorted((FIXTURES / "teams").glob("0*.json"))
]
if not SLACK or not TEAMS:
    pytest.skip(f"the shared fixtures are not at {FIXTURES}", allow_module_level=True)


def bodies(document: Any) -> st.SearchStrategy[tuple[bytes, str]]:
    """A document as Slack sends it: JSON, or a form carrying it as `payload`."""
    text = json.dumps(document)
    return st.sampled_from(
        [
            (text.encode(), "application/json"),
            (urlencode({"payload": text}).encode(), "application/x-www-form-urlencoded"),
        ]
    )


def bolt_reads(body: bytes, content_type: str) -> None:
    problem = slack_body_problem(body, content_type)
    if problem is not None:
        assert isinstance(problem, str) and problem
        return
    parsed = parse_body(body.decode(), content_type)
    assert isinstance(parsed, dict)
    event = parsed.get("event")
    assert event is None or isinstance(event, dict)


@settings(SETTINGS)
@given(st.sampled_from(SLACK).flatmap(mutated).flatmap(bodies))
def test_slack_bodies_are_readable_by_bolt_or_refused(request: tuple[bytes, str]) -> None:
    bolt_reads(*request)


@settings(SETTINGS)
@given(st.binary(max_size=200), st.sampled_from(["application/json", "text/plain", ""]))
def test_any_bytes_are_readable_by_bolt_or_refused(body: bytes, content_type: str) -> None:
    bolt_reads(body, content_type)


@settings(SETTINGS)
@given(st.sampled_from(TEAMS).flatmap(mutated))
def test_teams_activities_read_without_raising(body: Any) -> None:
    if not isinstance(body, dict):
        return  # refused with a 400 before this
    try:
        activity = Activity().deserialize(body)
    except Exception:
        return  # refused with a 400 by the route
    if not activity.type or activities.shape_problem(activity) is not None:
        return  # refused with a 400 by the route
    activities.command_text(activity)
    activities.actor(activity)
    activities.request_id(activity)
    activities.captured_references(activity)
    activities.removed_keys(activity)


def test_an_entity_without_a_type_is_refused_not_read() -> None:
    """botbuilder's mention reader calls `entity.type.lower()`: an entity with no type
    crashed the turn; the activity is refused with a reason instead."""
    body = {
        "type": "message",
        "id": "1",
        "text": "<at>Lookout</at> ack INC-1",
        "from": {"id": "29:1dana"},
        "conversation": {"id": "19:abc@thread.tacv2"},
        "entities": [{"mentioned": {"id": "28:bot"}}],
    }
    activity = Activity().deserialize(body)
    assert activities.shape_problem(activity) == "every entity needs a `type`"
