"""Judging a call from its service-graph signals against its baseline (pure), and the PromQL
each metric shape becomes."""

from __future__ import annotations

import math

import pytest

from core.dependency_health import (
    ISTIO,
    TEMPO,
    DependencyRules,
    EdgeSignals,
    assess,
    signals_from,
)
from skills.views.sparkline import sparkline_text

RULES = DependencyRules()


def edge(rate: float, errors: float, latency: float) -> EdgeSignals:
    return EdgeSignals(rate=rate, error_ratio=errors, latency=latency)


def moved(now: EdgeSignals, before: EdgeSignals | None) -> list[tuple[str, str]]:
    return [(f.signal, f.status.value) for f in assess(now, before, RULES)]


def test_what_moved_against_the_baseline_and_what_did_not() -> None:
    before = edge(20, 0.001, 0.08)
    assert moved(edge(20, 0.001, 0.08), before) == []
    assert moved(edge(20, 0.08, 0.08), before) == [("errors", "failing")]
    assert moved(edge(20, 0.02, 0.08), before) == [("errors", "degraded")]
    # A chronically failing call has not moved: 6 % now, 5 % then.
    assert moved(edge(20, 0.06, 0.08), edge(20, 0.05, 0.08)) == []
    assert moved(edge(20, 0.001, 0.13), before) == [("latency", "degraded")]
    assert moved(edge(20, 0.001, 0.3), before) == [("latency", "failing")]
    # Doubling from 2 ms to 4 ms is under the 10 ms floor: noise, not a slowdown.
    assert moved(edge(20, 0.001, 0.004), edge(20, 0.001, 0.002)) == []
    assert moved(edge(8, 0.001, 0.08), before) == [("requests", "degraded")]  # −60 %
    assert moved(edge(70, 0.001, 0.08), before) == [("requests", "degraded")]  # 3.5×
    assert moved(edge(math.nan, math.nan, math.nan), before) == [("requests", "degraded")]
    # Worst first.
    assert moved(edge(8, 0.2, 0.13), before) == [
        ("errors", "failing"),
        ("latency", "degraded"),
        ("requests", "degraded"),
    ]


def test_without_a_baseline_only_the_absolute_error_thresholds_count() -> None:
    assert moved(edge(5, 0.2, 9.0), None) == [("errors", "failing")]
    assert moved(edge(5, 0.0, 9.0), None) == []
    assert assess(edge(5, math.nan, math.nan), None, RULES) == []


def test_signals_from_range_series() -> None:
    requests = [(0.0, 10.0), (15.0, 10.0), (30.0, 20.0)]
    failures = [(15.0, 1.0), (30.0, 3.0)]  # none yet at 0 s: the counter did not exist
    latency = [(0.0, 0.1), (15.0, math.nan), (30.0, 0.3)]
    signals = signals_from(requests, failures, latency)
    assert signals.rate == pytest.approx(40 / 3)
    assert signals.error_ratio == pytest.approx(4 / 40)  # weighted by traffic
    assert signals.latency == pytest.approx(0.2)
    assert signals.points["errors"] == [(0.0, 0.0), (15.0, 0.1), (30.0, 0.15)]
    quiet = signals_from([], [], [])
    assert math.isnan(quiet.rate) and math.isnan(quiet.error_ratio)


def test_each_shape_as_promql() -> None:
    rules = DependencyRules(rate_interval="2m", quantile=0.99)
    assert rules.render(TEMPO.requests, TEMPO, ["checkout"]) == (
        'sum by (client, server) (rate(traces_service_graph_request_total{client="checkout"}[2m]))'
    )
    assert rules.render(TEMPO.latency, TEMPO, None) == (
        "histogram_quantile(0.99, sum by (client, server, le) "
        "(rate(traces_service_graph_request_server_seconds_bucket{}[2m])))"
    )
    assert rules.render(ISTIO.failures, ISTIO, ["web", "api.v2"]) == (
        "max by (source_workload, destination_workload) "
        "(sum by (source_workload, destination_workload, reporter) "
        '(rate(istio_requests_total{source_workload=~"api\\\\.v2|web",response_code=~"5.."}[2m])))'
    )
    assert rules.render(ISTIO.failures, ISTIO, None).count('{response_code=~"5.."}') == 1
    assert rules.render(TEMPO.requests, TEMPO, ['say "hi"']).count('client="say \\"hi\\""') == 1
    with pytest.raises(ValueError, match="tempo, istio"):
        DependencyRules(sources=[])


def test_a_text_sparkline() -> None:
    assert sparkline_text([0, 1, 2, 3, 4, 5, 6, 7]) == "▁▂▃▄▅▆▇█"
    assert sparkline_text([8, 8, 4, 4]) == "██▅▅"  # from zero: half the rate, half as tall
    assert sparkline_text([0.0] * 4) == "▁▁▁▁"
    assert sparkline_text([5.0, math.nan, 5.0]) == "██"
    assert sparkline_text([-2.0, 0.0, 2.0]) == "▁▅█"
    assert sparkline_text([]) == ""
    assert len(sparkline_text(list(range(100)), width=12)) <= 13
