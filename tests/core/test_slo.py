"""SLO maths on hand-computed cases, and Sloth's own files."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
import yaml
from pydantic import ValidationError

from core.slo import (
    WORKBOOK_RULES,
    SlothSpec,
    TrafficGuard,
    WindowReading,
    budget_curve,
    budget_status,
    burn_rate,
    evaluate_rules,
    promql_duration,
    render,
    rule_windows,
    slos_of,
)
from tests.conftest import FIXTURES

SLOTH = FIXTURES / "sloth"
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
H, M, D = timedelta(hours=1), timedelta(minutes=1), timedelta(days=1)


def spec(name: str) -> SlothSpec:
    return SlothSpec.parse(yaml.safe_load((SLOTH / name).read_text()))


def test_sloth_getting_started_file() -> None:
    (slo,) = slos_of(spec("01_getting-started_availability.yml"))
    assert (slo.service, slo.name) == ("myservice", "requests-availability")
    assert slo.objective == pytest.approx(0.999)
    assert slo.budget == pytest.approx(0.001)
    assert slo.alert_name == "MyServiceHighErrorRate"
    assert slo.alert_labels["page"] == {
        "category": "availability",
        "severity": "pageteam",
        "routing_key": "myteam",
    }
    assert slo.labels["tier"] == "2"  # quoted on purpose, stays a string
    query = slo.error_ratio_query("5m")
    assert "{{" not in query
    assert query == (
        '(sum(rate(http_request_duration_seconds_count{job="myservice",code=~"(5..|429)"}[5m])))'
        ' / (sum(rate(http_request_duration_seconds_count{job="myservice"}[5m])))'
    )


def test_sloth_multiline_latency_query_and_raw_ratio() -> None:
    availability, latency = slos_of(spec("02_kubernetes-apiserver_availability_latency.yml"))
    assert latency.objective == pytest.approx(0.99)
    assert 'le="0.4"' in latency.error_ratio_query("1h") and "[1h]" in latency.error_ratio_query(
        "1h"
    )
    assert availability.labels == {
        "cluster": "valhalla",
        "component": "kubernetes",
        "category": "availability",
    }
    (wifi,) = slos_of(spec("03_raw-home-wifi_error_ratio_query.yml"))
    assert not wifi.counts_events and wifi.events_query("5m") is None
    assert wifi.error_ratio_query("30d").count("[30d]") == 2


@pytest.mark.parametrize(
    "name", ["04_k8s-getting-started_crd.yml", "05_openslo-getting-started_v1alpha.yml"]
)
def test_other_formats_are_refused_with_a_reason(name: str) -> None:
    with pytest.raises(ValidationError):
        spec(name)


def test_window_placeholder_spacing() -> None:
    assert (
        render("rate(x[{{ .window }}]) / rate(y[{{.window}}])", "2h") == "rate(x[2h]) / rate(y[2h])"
    )


def test_promql_durations() -> None:
    assert [promql_duration(w) for w in rule_windows(WORKBOOK_RULES)] == [
        "5m",
        "30m",
        "1h",
        "2h",
        "6h",
        "1d",
        "3d",
    ]
    assert promql_duration(timedelta(days=28)) == "28d"
    assert promql_duration(timedelta(seconds=90)) == "90s"


def test_burn_rate_by_hand() -> None:
    # 99.9 %: budget 0.1 %; 1.44 % errors burn 14.4 times as fast as allowed.
    assert burn_rate(0.0144, 0.999) == pytest.approx(14.4)
    assert burn_rate(0.001, 0.999) == pytest.approx(1.0)
    assert burn_rate(math.nan, 0.999) == 0.0  # no traffic
    with pytest.raises(ValueError):
        burn_rate(0.1, 99.9)


def test_workbook_budget_shares() -> None:
    # 14.4× for 1 h spends 2 % of a 30-day budget; 6× for 6 h 5 %; 3×/1 d and 1×/3 d 10 %.
    assert [round(rule.budget_share, 4) for rule in WORKBOOK_RULES] == [0.02, 0.05, 0.1, 0.1]


def readings(
    ratio_by_window: dict[timedelta, float], events: float = 1e6
) -> dict[timedelta, WindowReading]:
    return {w: WindowReading(r, events, events * r) for w, r in ratio_by_window.items()}


def test_page_needs_both_windows() -> None:
    objective = 0.999
    # 2 % errors over the last hour and the last 5 minutes: 20× > 14.4× on both → page.
    both = readings(
        {
            H: 0.02,
            5 * M: 0.02,
            6 * H: 0.002,
            30 * M: 0.002,
            D: 0.001,
            2 * H: 0.001,
            3 * D: 0.0005,
            6 * H: 0.002,
        }
    )
    fired = [v for v in evaluate_rules(both, objective) if v.firing]
    assert [(v.rule.severity, v.rule.factor) for v in fired] == [("page", 14.4)]
    assert fired[0].long_burn == pytest.approx(20) and fired[0].short_burn == pytest.approx(20)
    # The burst is over: the last 5 minutes are clean, so the page stops though 1 h is high.
    over = readings(
        {H: 0.02, 5 * M: 0.0, 6 * H: 0.002, 30 * M: 0.0, D: 0.001, 2 * H: 0.001, 3 * D: 0.0005}
    )
    assert not any(v.firing for v in evaluate_rules(over, objective))


def test_slow_burn_opens_a_ticket() -> None:
    # 0.4 % errors for days: 4× over 1 d and 2 h (> 3×), 4× over 3 d and 6 h (> 1×).
    slow = readings({w: 0.004 for w in rule_windows(WORKBOOK_RULES)})
    fired = {(v.rule.severity, v.rule.factor) for v in evaluate_rules(slow, 0.999) if v.firing}
    assert fired == {("ticket", 3.0), ("ticket", 1.0)}


def test_minimum_traffic_guard() -> None:
    # 3 errors in 20 requests: 15 % errors is 150× — but no page for a quiet service.
    quiet = {w: WindowReading(0.15, 20, 3) for w in rule_windows(WORKBOOK_RULES)}
    verdicts = evaluate_rules(quiet, 0.999)
    assert not any(v.firing for v in verdicts) and all(v.guarded for v in verdicts)
    loud = {w: WindowReading(0.15, 2000, 300) for w in rule_windows(WORKBOOK_RULES)}
    assert all(v.firing for v in evaluate_rules(loud, 0.999))
    assert TrafficGuard(min_events=10, min_bad_events=3).passes(20, 3)
    assert TrafficGuard().passes(None, None)  # a ratio SLI: nothing to count


def test_budget_and_its_exhaustion_by_hand() -> None:
    # 28 days at 99.9 %: 0.05 % errors over the window spent half the budget; burning at 2×
    # now, the other half lasts 0.5 × 28 d / 2 = 7 days.
    status = budget_status(
        objective=0.999, window=28 * D, window_error_ratio=0.0005, recent_burn_rate=2.0, now=NOW
    )
    assert status.sli == pytest.approx(0.9995)
    assert status.budget_remaining == pytest.approx(0.5)
    assert status.exhausted_at == NOW + 7 * D
    spent = budget_status(
        objective=0.999, window=28 * D, window_error_ratio=0.002, recent_burn_rate=0.0, now=NOW
    )
    assert spent.budget_remaining == pytest.approx(-1.0) and spent.exhausted
    calm = budget_status(
        objective=0.999, window=28 * D, window_error_ratio=0.0, recent_burn_rate=0.0, now=NOW
    )
    assert calm.budget_remaining == 1.0 and calm.exhausted_at is None
    none = budget_status(
        objective=0.999, window=28 * D, window_error_ratio=math.nan, recent_burn_rate=None, now=NOW
    )
    assert none.sli is None and none.budget_remaining is None


def test_budget_curve_by_hand() -> None:
    # 1000 requests a step at 99 %: 10 bad allowed per step. 0, 10, 30 bad events.
    curve = budget_curve([0, 10, 30], [1000, 1000, 1000], 0.99)
    assert curve == pytest.approx([1.0, 0.5, 1 - 40 / 30])
    assert budget_curve([0], [0], 0.99) == [None]
