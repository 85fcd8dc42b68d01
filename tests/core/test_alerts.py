from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import ValidationError

from core.alerts import fingerprint, parse_timestamp, parse_webhook, service_of


def test_fingerprint_matches_prometheus_label_hash() -> None:
    # prometheus/common: the empty label set hashes to the FNV-1a offset basis.
    assert fingerprint({}) == "cbf29ce484222325"
    one = fingerprint({"alertname": "TargetDown", "job": "node"})
    assert one == fingerprint({"job": "node", "alertname": "TargetDown"})  # order-free
    assert one != fingerprint({"alertname": "TargetDown", "job": "nodes"})
    assert len(one) == 16 and int(one, 16) >= 0
    # The separator keeps ("ab","c") and ("a","bc") apart.
    assert fingerprint({"ab": "c"}) != fingerprint({"a": "bc"})


def test_timestamps_with_nanoseconds_and_offsets() -> None:
    parsed = parse_timestamp("2018-03-07T06:33:21.873077559-05:00")
    assert parsed == datetime(2018, 3, 7, 11, 33, 21, 873077, tzinfo=UTC)
    assert parse_timestamp("2019-01-28T20:26:23Z") == datetime(2019, 1, 28, 20, 26, 23, tzinfo=UTC)
    assert parse_timestamp("0001-01-01T00:00:00Z") is None
    with pytest.raises(ValueError):
        parse_timestamp("yesterday")


def test_every_alertmanager_fixture_parses(alertmanager_fixtures: Path) -> None:
    files = sorted(alertmanager_fixtures.glob("*.json"))
    assert len(files) >= 6
    for path in files:
        body = json.loads(path.read_text())
        alerts = parse_webhook(body)
        assert len(alerts) == len(body["alerts"]), path.name
        for alert, raw in zip(alerts, body["alerts"], strict=True):
            if "fingerprint" not in raw:
                assert alert.fingerprint == fingerprint(raw["labels"])
            assert alert.status in ("firing", "resolved")
            assert alert.starts_at.tzinfo is UTC
            assert alert.group_key == body.get("groupKey")


def test_fixture_without_per_alert_status_takes_the_payload_status(
    alertmanager_fixtures: Path,
) -> None:
    body = json.loads(
        (alertmanager_fixtures / "01_prometheus-msteams_prom_post_request.json").read_text()
    )
    [alert] = parse_webhook(body)
    assert alert.status == "firing"
    assert alert.ends_at is None
    assert alert.service == "docker_nodes"  # no service label: falls back to job
    assert alert.summary == "Server High Memory usage"


def test_resolved_fixture_with_zero_end_time(alertmanager_fixtures: Path) -> None:
    body = json.loads((alertmanager_fixtures / "06_alertmonitor_resolved_3alerts.json").read_text())
    alerts = parse_webhook(body)
    assert {a.status for a in alerts} == {"resolved"}
    # alertmonitor sends Go's zero time as endsAt even when resolved: "not set", not year 1.
    assert all(a.ends_at is None for a in alerts)


def test_distinct_alerts_sharing_a_copied_fingerprint_stay_distinct(
    alertmanager_fixtures: Path,
) -> None:
    body = json.loads((alertmanager_fixtures / "04_prom2teams_all_ok_multiple.json").read_text())
    assert len({a["fingerprint"] for a in body["alerts"]}) == 1  # the sender copied it
    alerts = parse_webhook(body)
    assert len({a.fingerprint for a in alerts}) == 2
    assert {a.fingerprint for a in alerts} == {fingerprint(a["labels"]) for a in body["alerts"]}


def test_a_senders_fingerprint_is_kept(alertmanager_fixtures: Path) -> None:
    body = json.loads((alertmanager_fixtures / "03_prom2teams_with_common_items.json").read_text())
    [alert] = parse_webhook(body)
    assert alert.fingerprint == body["alerts"][0]["fingerprint"]


def test_unknown_fields_are_ignored() -> None:
    body = {
        "version": "4",
        "truncatedAlerts": 0,
        "notification_reason": "new",
        "routeLabels": {"team": "db"},
        "alerts": [
            {
                "labels": {"alertname": "X", "service": "db"},
                "startsAt": "2024-01-01T00:00:00Z",
                "somethingNew": True,
            }
        ],
    }
    [alert] = parse_webhook(body)
    assert alert.name == "X" and alert.service == "db" and alert.status == "firing"


@pytest.mark.parametrize(
    "body",
    [
        {"alerts": []},
        {"alerts": [{"labels": {}, "startsAt": "2024-01-01T00:00:00Z"}]},
        {"alerts": [{"labels": {"a": "b"}}]},
        {"alerts": [{"labels": {"a": "b"}, "startsAt": "not a time"}]},
        {"alerts": [{"labels": {"a": {"nested": 1}}, "startsAt": "2024-01-01T00:00:00Z"}]},
        {
            "status": "exploded",
            "alerts": [{"labels": {"a": "b"}, "startsAt": "2024-01-01T00:00:00Z"}],
        },
    ],
)
def test_malformed_bodies_are_rejected(body: dict[str, object]) -> None:
    with pytest.raises((ValidationError, ValueError)):
        parse_webhook(body)


def test_service_label_precedence() -> None:
    assert service_of({"service": "a", "job": "b", "namespace": "c"}) == "a"
    assert service_of({"job": "b", "namespace": "c"}) == "b"
    assert service_of({"namespace": "c"}) == "c"
    assert service_of({"alertname": "x"}) is None
