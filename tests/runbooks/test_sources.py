"""Parameters of a run for an incident come from its alerts' labels, each value says where it
came from, and every parameter still missing is named at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from runbooks.fit import AlertFacts
from runbooks.loader import RunbookInvalid
from runbooks.plan import PlanError
from runbooks.sources import DEFAULT, GIVEN, fill_parameters

from .conftest import executor, plan, runbook

BOOK = runbook(
    """
    name: restart-unit
    title: Restart a unit
    risk: medium
    parameters:
      - {name: host, type: string, label: instance, label_pattern: '^([^:]+)'}
      - {name: unit, type: string, label: [name, unit], pattern: '[a-z0-9@._-]+\\.service'}
      - {name: namespace, type: string}
      - {name: reason, type: string}
      - {name: retries, type: int, minimum: 0, maximum: 5, default: 2}
    steps:
      - name: echo
        kind: exec
        argv: [/bin/echo, "{{host}}", "{{unit}}", "{{namespace}}", "{{reason}}"]
    """
)


def test_values_come_from_the_declared_labels_with_where_they_came_from() -> None:
    failing = AlertFacts(
        "SystemdUnitFailed",
        {"instance": "web-1:9100", "name": "nginx.service", "namespace": "edge"},
    )
    filled = fill_parameters(BOOK, {"reason": "wedged"}, [failing])
    assert filled.arguments == {
        "reason": "wedged",
        "host": "web-1",
        "unit": "nginx.service",
        "namespace": "edge",
    }
    assert filled.sources == {
        "reason": GIVEN,
        "host": "label instance of SystemdUnitFailed",
        "unit": "label name of SystemdUnitFailed",
        "namespace": "label namespace of SystemdUnitFailed",
        "retries": DEFAULT,
    }
    assert filled.missing == [] and filled.notes == []


def test_every_missing_parameter_is_named_at_once() -> None:
    filled = fill_parameters(BOOK, {}, [AlertFacts("Other", {"severity": "critical"})])
    assert filled.missing == ["host", "unit", "namespace", "reason"]
    assert filled.sources == {"retries": DEFAULT}


def test_the_planner_lists_missing_and_refused_values_together(tmp_path: Path) -> None:
    runner = executor(tmp_path)
    with pytest.raises(PlanError) as error:
        plan(runner, BOOK, unit="nginx", reason="x")
    assert error.value.missing == ["host", "namespace"]
    assert error.value.invalid == ["unit"]
    assert error.value.problems == [
        "host is required",
        "unit: 'nginx' does not match '[a-z0-9@._-]+\\\\.service'",
        "namespace is required",
    ]


def test_the_best_fitting_alert_answers_first_then_firing_ones() -> None:
    first = AlertFacts("PostgresDown", {"namespace": "db"})
    other = AlertFacts("HighErrorRate", {"namespace": "shop", "instance": "api:8080"})
    resolved = AlertFacts("Old", {"namespace": "old", "reason": "gone"}, firing=False)
    filled = fill_parameters(BOOK, {}, [other, resolved, first], first=first)
    assert filled.arguments["namespace"] == "db"
    assert filled.sources["host"] == "label instance of HighErrorRate"
    assert filled.arguments["reason"] == "gone"  # a resolved alert is read last, still read


def test_a_label_value_the_parameter_refuses_is_skipped_and_reported() -> None:
    bad = AlertFacts("A", {"name": "not a unit; rm -rf /"})
    good = AlertFacts("B", {"unit": "api.service"})
    filled = fill_parameters(BOOK, {}, [bad, good])
    assert filled.arguments["unit"] == "api.service"
    alone = fill_parameters(BOOK, {}, [bad])
    assert "unit" in alone.missing
    assert alone.notes == [
        "unit: label name of A is 'not a unit; rm -rf /', which does not match "
        "'[a-z0-9@._-]+\\\\.service'"
    ]


def test_a_given_value_always_wins_and_secrets_never_come_from_labels() -> None:
    filled = fill_parameters(
        BOOK, {"namespace": "mine"}, [AlertFacts("A", {"namespace": "theirs"})]
    )
    assert filled.arguments["namespace"] == "mine" and filled.sources["namespace"] == GIVEN
    with pytest.raises(RunbookInvalid, match="never from alert labels"):
        runbook(
            """
            name: secret-label
            title: Secret from a label
            risk: low
            parameters: [{name: token, type: string, secret: true, label: token}]
            steps: [{name: echo, kind: exec, argv: [/bin/echo, hi], env: {TOKEN: "{{token}}"}}]
            """
        )
