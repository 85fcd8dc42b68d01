"""Properties of Alertmanager (and Grafana) webhook parsing over generated bodies: any JSON,
and mutations of the real payloads of ../shared/fixtures."""

from __future__ import annotations

import json
from datetime import UTC
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from core.alerts import MAX_COUNT, fingerprint, parse_delivery, parse_timestamp
from tests.conftest import FIXTURES
from tests.mutations import SETTINGS, json_values, mutated

PAYLOADS = [
    json.loads(path.read_text())
    for folder in ("alertmanager", "grafana")
    for path in sorted((FIXTURES / folder).glob("*.json"))
]
if not PAYLOADS:
    pytest.skip(f"the shared fixtures are not at {FIXTURES}", allow_module_level=True)


def check_delivery(body: Any) -> None:
    """parse_delivery raises only its documented errors; what it returns is storable."""
    try:
        delivery = parse_delivery(body)
    except (ValidationError, ValueError):
        return
    alerts = body["alerts"]
    assert len(delivery.alerts) + len(delivery.rejected) == len(alerts)
    assert 0 <= delivery.truncated_alerts <= MAX_COUNT
    for alert in delivery.alerts:
        assert alert.labels and alert.status in ("firing", "resolved")
        assert alert.starts_at.tzinfo is not None
        assert 0 < len(alert.fingerprint) <= 64
        texts = [*alert.labels, *alert.labels.values(), *alert.annotations.values()]
        assert not any("\x00" in text for text in texts)


@settings(SETTINGS)
@given(st.sampled_from(PAYLOADS).flatmap(mutated))
def test_mutated_real_payloads_parse_or_are_refused_by_kind(body: Any) -> None:
    check_delivery(body)


@settings(SETTINGS)
@given(json_values)
def test_any_json_parses_or_is_refused_by_kind(body: Any) -> None:
    check_delivery(body)


@settings(SETTINGS)
@given(st.dictionaries(st.text(max_size=20), st.text(max_size=20), min_size=1, max_size=8))
def test_a_fingerprint_depends_on_the_labels_not_their_order(labels: dict[str, str]) -> None:
    reordered = dict(reversed(list(labels.items())))
    assert fingerprint(labels) == fingerprint(reordered)
    assert len(fingerprint(labels)) == 16


@settings(SETTINGS)
@given(st.datetimes(timezones=st.timezones()))
def test_rfc3339_timestamps_round_trip(moment: Any) -> None:
    """Every aware time written as RFC 3339 reads back as the same instant (to the µs), or,
    past the calendar once in UTC, is refused with ValueError."""
    text = moment.isoformat()
    offset = moment.utcoffset()
    if text.startswith("0001-01-01") or (offset is not None and offset.seconds % 60):
        return  # Go's zero time means "not set"; RFC 3339 offsets have no seconds
    try:
        # The instant, comparing by UTC: PEP 495 makes a folded local time unequal to any
        # time of another zone.
        expected = moment.astimezone(UTC)
    except OverflowError:
        with pytest.raises(ValueError):
            parse_timestamp(text)
        return
    assert parse_timestamp(text) == expected


@pytest.mark.parametrize(
    "stamp",
    [
        "9999-12-31T23:59:59-01:00",  # past year 9999 once in UTC
        "0001-01-01T00:30:00+01:00",  # before year 1 once in UTC
    ],
)
def test_a_time_that_leaves_the_calendar_in_utc_is_refused(stamp: str) -> None:
    body = {"alerts": [{"labels": {"alertname": "Edge"}, "startsAt": stamp}]}
    with pytest.raises(ValueError, match="startsAt"):
        parse_delivery(body)


def test_a_truncated_count_past_an_integer_column_is_refused() -> None:
    body = {
        "truncatedAlerts": 2**31,
        "alerts": [{"labels": {"a": "b"}, "startsAt": "2026-01-01T00:00:00Z"}],
    }
    with pytest.raises(ValidationError, match="truncatedAlerts"):
        parse_delivery(body)
