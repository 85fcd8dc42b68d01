"""Health thresholds, readings and how they combine with the alerts' statuses (pure)."""

from __future__ import annotations

import math

import pytest
import yaml
from pydantic import ValidationError

from bot.config import LookoutConfig
from core.blast_radius import ServiceStatus
from core.service_health import (
    HealthQuery,
    HealthReading,
    HealthRules,
    assess,
    combine,
    notes,
    worst,
)

FAILING, DEGRADED, HEALTHY = ServiceStatus.FAILING, ServiceStatus.DEGRADED, ServiceStatus.HEALTHY
ERRORS = HealthQuery(
    name="error ratio", expr="x", unit="percent", degraded_above=0.01, failing_above=0.05
)
DOWN = HealthQuery(
    name="targets down", expr="y", unit="percent", degraded_above=0, failing_above=0.5
)
QUEUE = HealthQuery(name="queue depth", expr="z", degraded_above=100, failing_above=1000)


def reading(service: str, status: ServiceStatus, text: str = "r") -> HealthReading:
    return HealthReading(service, "q", 1.0, status, text)


def test_thresholds_are_strictly_above() -> None:
    assert ERRORS.status(0.0) is HEALTHY
    assert ERRORS.status(0.01) is HEALTHY
    assert ERRORS.status(0.0101) is DEGRADED
    assert ERRORS.status(0.05) is DEGRADED
    assert ERRORS.status(0.0501) is FAILING
    assert DOWN.status(0) is HEALTHY
    assert DOWN.status(0.25) is DEGRADED  # one target of four down
    assert DOWN.status(0.5) is DEGRADED
    assert DOWN.status(1) is FAILING


def test_readings_say_what_they_measured() -> None:
    assert ERRORS.describe(0.042) == "error ratio 4.2 %"
    assert DOWN.describe(1.0) == "targets down 100.0 %"
    assert QUEUE.describe(1234.5) == "queue depth 1,234"
    assert QUEUE.describe(0.25) == "queue depth 0.25"


def test_assess_reads_the_service_label_and_skips_what_is_not_a_number() -> None:
    answer = [
        ({"service": "checkout"}, 0.002),
        ({"service": "payments", "instance": "a"}, 0.02),
        ({"service": "payments", "instance": "b"}, 0.09),  # the worst series counts
        ({"service": "search"}, math.nan),  # no traffic: 0/0
        ({"service": "mailer"}, math.inf),
        ({"job": "node"}, 0.5),  # no service label
        ({"service": ""}, 0.5),
    ]
    readings = assess(ERRORS, answer, label="service")
    assert sorted(readings) == ["checkout", "payments"]
    assert readings["checkout"].status is HEALTHY
    payments = readings["payments"]
    assert (payments.status, payments.value, payments.text) == (
        FAILING,
        0.09,
        "error ratio 9.0 %",
    )
    by_job = assess(ERRORS.model_copy(update={"label": "job"}), answer, label="service")
    assert list(by_job) == ["node"]


def test_worst_reading_per_service_over_queries() -> None:
    first = {"a": reading("a", DEGRADED, "first"), "b": reading("b", DEGRADED, "b1")}
    second = {"a": reading("a", FAILING, "second"), "b": reading("b", DEGRADED, "b2")}
    chosen = worst([first, second])
    assert chosen["a"].text == "second"
    assert chosen["b"].text == "b1"  # a tie: the query listed first


def test_the_worse_of_alerts_and_metrics_wins() -> None:
    alerts = {"a": FAILING, "b": DEGRADED, "c": DEGRADED}
    readings = {
        "a": reading("a", DEGRADED),
        "b": reading("b", FAILING),
        "d": reading("d", DEGRADED),
        "e": reading("e", HEALTHY),
    }
    assert combine(alerts, readings) == {"a": FAILING, "b": FAILING, "c": DEGRADED, "d": DEGRADED}
    assert combine(alerts, {}) == alerts


def test_notes_say_where_a_status_came_from() -> None:
    alerts = {"a": FAILING, "b": DEGRADED, "c": FAILING}
    readings = {
        "a": reading("a", DEGRADED, "error ratio 2.0 %"),  # alerts decide: no note
        "b": reading("b", FAILING, "error ratio 12.0 %"),  # metrics decide
        "c": reading("c", FAILING, "targets down 100.0 %"),  # both say so
        "d": reading("d", DEGRADED, "error ratio 4.2 %"),
        "e": reading("e", HEALTHY, "error ratio 0.0 %"),
    }
    assert notes(alerts, readings) == {
        "b": "error ratio 12.0 %",
        "c": "alerts; targets down 100.0 %",
        "d": "error ratio 4.2 %",
    }


def test_defaults_and_the_config_section() -> None:
    rules = LookoutConfig().health
    assert [q.name for q in rules.queries] == ["error ratio", "targets down"]
    assert (rules.label, rules.timeout_seconds, rules.cache_seconds) == ("service", 2, 10)
    assert rules.active
    text = """
health:
  label: app
  cache_seconds: 5
  queries:
    - name: saturation
      expr: max by (app) (pool_in_use / pool_size)
      unit: percent
      degraded_above: 0.8
      failing_above: 0.95
"""
    custom = LookoutConfig.model_validate(yaml.safe_load(text)).health
    assert [q.name for q in custom.queries] == ["saturation"]  # the list replaces the defaults
    assert custom.label == "app" and custom.cache_seconds == 5
    assert not HealthRules(enabled=False).active
    assert not HealthRules(queries=[]).active


def test_bad_health_sections_are_refused() -> None:
    with pytest.raises(ValidationError, match=r"failing_above .* is below degraded_above"):
        HealthQuery(name="x", expr="x", degraded_above=0.5, failing_above=0.1)
    with pytest.raises(ValidationError, match="names must be unique"):
        HealthRules(queries=[ERRORS, ERRORS])
    with pytest.raises(ValidationError, match="Extra inputs"):
        HealthRules.model_validate({"queries": [{"name": "x", "expr": "x", "above": 1}]})
    with pytest.raises(ValidationError):
        HealthRules(timeout_seconds=0)
