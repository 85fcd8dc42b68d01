from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from core.incidents import (
    AlertBrief,
    IncidentStatus,
    InvalidTransition,
    check_transition,
    next_steps,
    parse_incident_id,
    primary_service,
    title_for,
    worst_severity,
)
from core.severity import Severity, parse_severity, severity_from_name

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def brief(
    name: str, severity: Severity, service: str | None, minutes: int = 0, firing: bool = True
) -> AlertBrief:
    return AlertBrief(
        fingerprint=f"{name}-{service}-{minutes}",
        name=name,
        severity=severity,
        service=service,
        firing=firing,
        starts_at=T0 + timedelta(minutes=minutes),
    )


def test_severity_is_the_worst_alerts() -> None:
    alerts = [brief("A", Severity.WARNING, "s"), brief("B", Severity.CRITICAL, "s", 1)]
    assert worst_severity(alerts) is Severity.CRITICAL


def test_title_names_service_and_main_symptom() -> None:
    alerts = [
        brief("LatencyHigh", Severity.WARNING, "checkout"),
        brief("HighErrorRate", Severity.CRITICAL, "checkout", 2),
        brief("LatencyHigh", Severity.WARNING, "checkout", 3),
    ]
    assert title_for(alerts) == "checkout: HighErrorRate and 1 other alert"
    assert title_for(alerts[:1]) == "checkout: LatencyHigh"


def test_firing_alerts_name_the_incident_before_resolved_ones() -> None:
    alerts = [
        brief("Gone", Severity.CRITICAL, "a", firing=False),
        brief("Still", Severity.WARNING, "a", 1),
    ]
    assert title_for(alerts).startswith("a: Still")


def test_primary_service_is_the_most_named() -> None:
    alerts = [
        brief("A", Severity.CRITICAL, "db"),
        brief("B", Severity.WARNING, "api", 1),
        brief("C", Severity.WARNING, "api", 2),
    ]
    assert primary_service(alerts) == "api"
    assert primary_service([brief("A", Severity.INFO, None)]) == "unknown"


def test_lifecycle_transitions() -> None:
    check_transition(IncidentStatus.TRIGGERED, IncidentStatus.ACKNOWLEDGED)
    check_transition(IncidentStatus.ACKNOWLEDGED, IncidentStatus.RESOLVED)
    with pytest.raises(InvalidTransition):
        check_transition(IncidentStatus.RESOLVED, IncidentStatus.ACKNOWLEDGED)
    with pytest.raises(InvalidTransition):
        check_transition(IncidentStatus.ACKNOWLEDGED, IncidentStatus.ACKNOWLEDGED)


@pytest.mark.parametrize("text", ["42", "#42", "INC-42", "inc-42", "inc42", " INC-42 "])
def test_incident_ids(text: str) -> None:
    assert parse_incident_id(text) == 42


@pytest.mark.parametrize("text", ["", "INC-", "forty", "-3", "0", "42a"])
def test_bad_incident_ids(text: str) -> None:
    with pytest.raises(ValueError):
        parse_incident_id(text)


def test_severity_words() -> None:
    assert parse_severity("CRITICAL") is Severity.CRITICAL
    assert parse_severity("major") is Severity.ERROR
    assert parse_severity("informational") is Severity.INFO
    assert parse_severity(None) is Severity.WARNING
    assert parse_severity("weird") is Severity.WARNING
    with pytest.raises(ValueError, match="use one of critical, error, warning, info"):
        severity_from_name("weird")


# The README: "triggered → acknowledged → investigating → mitigated → resolved (and back to
# triggered when reopened)"; an open incident may be resolved at any step.
LIFECYCLE = {
    (IncidentStatus.TRIGGERED, IncidentStatus.ACKNOWLEDGED),
    (IncidentStatus.ACKNOWLEDGED, IncidentStatus.INVESTIGATING),
    (IncidentStatus.INVESTIGATING, IncidentStatus.MITIGATED),
    (IncidentStatus.MITIGATED, IncidentStatus.RESOLVED),
    (IncidentStatus.RESOLVED, IncidentStatus.TRIGGERED),
    (IncidentStatus.TRIGGERED, IncidentStatus.RESOLVED),
    (IncidentStatus.ACKNOWLEDGED, IncidentStatus.RESOLVED),
    (IncidentStatus.INVESTIGATING, IncidentStatus.RESOLVED),
}


@pytest.mark.parametrize(
    ("current", "target"),
    [(current, target) for current in IncidentStatus for target in IncidentStatus],
)
def test_the_lifecycle_is_the_documented_one(
    current: IncidentStatus, target: IncidentStatus
) -> None:
    if (current, target) in LIFECYCLE:
        check_transition(current, target)
        assert target in next_steps(current)
    else:  # every other move, skipping ahead and going back included, is refused
        with pytest.raises(InvalidTransition):
            check_transition(current, target)
        assert target not in next_steps(current)
