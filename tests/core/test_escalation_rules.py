"""Escalation rules on hand-computed cases: a policy's `repeat`, matching by service, team
and labels, and business hours per team."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import yaml

from core.escalation import EscalationRules, IncidentFacts, Mode, Policy, decide
from core.severity import Severity

T0 = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)  # a Tuesday

ISSUE_POLICY = """
name: default
match: {severity: critical}
repeat: 1
levels:
  - {after: 0s, notify: ["oncall:payments", "pagerduty"]}
  - {after: 15m, notify: ["user:U024BE7LH", "webhook:ops"]}
"""


def test_repeat_runs_the_levels_once_more_one_period_later_then_stops() -> None:
    policy = Policy.model_validate(yaml.safe_load(ISSUE_POLICY))
    assert policy.period == timedelta(minutes=30)  # the last level's 15m and the 15m gap
    schedule = []
    step: tuple[int, int] | None = (0, 0)
    while step is not None:
        level, cycle = step
        schedule.append((level + 1, cycle, policy.due(level=level, cycle=cycle, base=T0) - T0))
        step = policy.after_level(level, cycle)
    assert schedule == [
        (1, 0, timedelta(0)),
        (2, 0, timedelta(minutes=15)),
        (1, 1, timedelta(minutes=30)),
        (2, 1, timedelta(minutes=45)),
    ]
    # `repeat_after` sets the period instead.
    spaced = policy.model_copy(update={"repeat_after": timedelta(hours=1), "repeat": 2})
    assert spaced.due(level=1, cycle=2, base=T0) - T0 == timedelta(hours=2, minutes=15)
    assert spaced.after_level(1, 1) == (0, 2) and spaced.after_level(1, 2) is None


RULES = EscalationRules.model_validate(
    yaml.safe_load(
        """
teams: {payments: {business_hours: {timezone: America/New_York}}}
policies:
  - {name: checkout, match: {service: [checkout, cart]}, levels: [{notify: ["user:U0CHECK"]}]}
  - {name: payments-team, match: {team: payments}, levels: [{notify: ["oncall:payments"]}]}
  - name: eu-database
    match: {labels: {cluster: eu-1, tier: db}}
    levels: [{notify: ["user:U0DBA"]}]
  - {name: critical, match: {severity: critical}, levels: [{notify: [pagerduty]}]}
"""
    )
)


def facts(
    *,
    service: str = "search",
    team: str | None = None,
    severity: Severity = Severity.CRITICAL,
    labels: list[dict[str, str]] | None = None,
) -> IncidentFacts:
    return IncidentFacts(service=service, team=team, severity=severity, labels=labels or [])


def chosen(incident: IncidentFacts, at: datetime = T0) -> str | None:
    policy = decide(RULES, incident, at).policy
    return policy.name if policy is not None else None


def test_policies_match_by_service_team_and_labels_the_first_that_fits_wins() -> None:
    assert chosen(facts(service="checkout")) == "checkout"
    assert chosen(facts(service="cart", team="payments")) == "checkout"  # listed first
    assert chosen(facts(team="payments")) == "payments-team"
    # Labels: one alert must carry all of them (another alert's cluster does not count).
    assert chosen(facts(labels=[{"cluster": "eu-1", "tier": "db", "pod": "pg-0"}])) == (
        "eu-database"
    )
    assert chosen(facts(labels=[{"cluster": "eu-1"}, {"tier": "db"}])) == "critical"
    assert chosen(facts(labels=[{"cluster": "us-1", "tier": "db"}])) == "critical"
    # Nothing fits a warning of another service, team and labels.
    warning = facts(severity=Severity.WARNING, labels=[{"cluster": "us-1"}])
    decision = decide(RULES, warning, datetime(2026, 12, 1, 15, 0, tzinfo=UTC))
    assert (decision.mode, decision.policy) == (Mode.NONE, None)


def test_business_hours_are_the_teams_own_in_its_time_zone() -> None:
    # 13:30 UTC is within the global hours (09–17 UTC) but 08:30 in New York.
    early = datetime(2026, 12, 1, 13, 30, tzinfo=UTC)
    payments = decide(RULES, facts(team="payments", severity=Severity.WARNING), early)
    assert payments.mode is Mode.DEFER
    assert payments.start == datetime(2026, 12, 1, 14, 0, tzinfo=UTC)  # 09:00 in New York
    assert "America/New_York" in payments.reason
    others = decide(RULES, facts(service="checkout", severity=Severity.WARNING), early)
    assert others.mode is Mode.PAGE
    # 21:30 UTC: after the global hours, still 16:30 in New York.
    late = datetime(2026, 12, 1, 21, 30, tzinfo=UTC)
    assert decide(RULES, facts(team="payments", severity=Severity.WARNING), late).mode is (
        Mode.PAGE
    )
    assert decide(RULES, facts(service="checkout", severity=Severity.WARNING), late).mode is (
        Mode.DEFER
    )
    # Critical pages at any hour, whatever the team's hours.
    assert decide(RULES, facts(team="payments"), early).mode is Mode.PAGE
