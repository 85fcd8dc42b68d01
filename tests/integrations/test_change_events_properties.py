"""Properties of the change-event parsers over generated bodies: any JSON, and mutations of
the real GitHub and Argo CD payloads of ../shared/fixtures. Each raises only its documented
error (ValueError; pydantic's ValidationError is one) and what it returns is a change that
can be stored: an id, services with valid names, a finish never before the start."""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.changes import ChangeEvent, check_service_name
from integrations.change_events import GITHUB_EVENTS, parse_argocd, parse_change, parse_github
from tests.conftest import FIXTURES
from tests.integrations.test_change_events import application, rendered_sync_result
from tests.mutations import SETTINGS, json_values, mutated

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
GITHUB = {
    path.name: json.loads(path.read_text())
    for path in sorted((FIXTURES / "github").glob("0[1-4]_*.json"))
}
EVENT_OF = {
    "01_octokit_deployment_created.json": "deployment",
    "02_octokit_deployment_status_success.json": "deployment_status",
    "03_zulip_deployment_status_failure.json": "deployment_status",
    "04_octokit_workflow_run_completed_success.json": "workflow_run",
}
GENERIC = {
    "id": "deploy-42",
    "kind": "deployment",
    "services": ["checkout", "payments"],
    "started_at": "2026-11-30T10:00:00Z",
    "finished_at": "2026-11-30T10:05:00+01:00",
    "status": "succeeded",
    "version": "v2.3.1",
    "labels": {"team": "shop"},
}
if not GITHUB:
    pytest.skip(f"the shared fixtures are not at {FIXTURES}", allow_module_level=True)


def check(event: ChangeEvent | None) -> None:
    if event is None:
        return
    assert event.id
    assert event.services
    for name in event.services:
        assert check_service_name(name) == name
    assert event.started_at.tzinfo is not None
    if event.finished_at is not None:
        assert event.finished_at >= event.started_at


@settings(SETTINGS)
@given(st.one_of(mutated(GENERIC), json_values))
def test_generic_bodies_parse_or_are_refused_with_value_error(body: Any) -> None:
    try:
        event = parse_change(body) if isinstance(body, dict) else None
    except ValueError:
        return
    check(event)


@settings(SETTINGS)
@given(
    st.sampled_from(sorted(GITHUB)).flatmap(
        lambda name: st.tuples(st.just(EVENT_OF[name]), mutated(GITHUB[name]))
    )
)
def test_github_deliveries_parse_or_are_refused_with_value_error(
    delivery: tuple[str, Any],
) -> None:
    event_type, body = delivery
    if not isinstance(body, dict):
        return  # the route refuses anything but an object before parsing
    try:
        event = parse_github(event_type, body)
    except ValueError:
        return
    check(event)


@settings(SETTINGS)
@given(st.sampled_from(GITHUB_EVENTS), json_values)
def test_any_json_under_a_github_event_is_refused_with_value_error(
    event_type: str, body: Any
) -> None:
    if not isinstance(body, dict):
        return
    with contextlib.suppress(ValueError):
        check(parse_github(event_type, body))


@settings(SETTINGS)
@given(st.one_of(mutated(application()), mutated(rendered_sync_result()), json_values))
def test_argocd_notifications_parse_or_are_refused_with_value_error(body: Any) -> None:
    if not isinstance(body, dict):
        return
    try:
        event = parse_argocd(body, now=NOW)
    except ValueError:
        return
    check(event)


def test_an_argocd_sync_result_with_fields_of_other_types_reads_what_it_can() -> None:
    """A `kind` that is a list once raised TypeError (unhashable) instead of ValueError."""
    body = {
        "revision": "f3937462080c",
        "resources": [
            {"kind": ["Deployment"], "name": "ignored"},
            {"kind": "Deployment", "name": {"not": "text"}},
            {"kind": "Deployment", "name": "api", "images": 5},
        ],
    }
    event = parse_argocd(body, now=NOW)
    assert (event.services, event.id) == (("api",), "argocd:api@f3937462080c")
    with pytest.raises(ValueError, match="names no workload"):
        parse_argocd({"revision": "r1", "resources": [{"kind": {}, "name": []}]}, now=NOW)
