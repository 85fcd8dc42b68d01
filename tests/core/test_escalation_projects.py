"""Escalation policies per project: a policy matching `project` applies to that project's
incidents only."""

from __future__ import annotations

from datetime import UTC, datetime

from core.escalation import EscalationRules, IncidentFacts, Mode, decide
from core.severity import Severity

RULES = EscalationRules.model_validate(
    {
        "policies": [
            {
                "name": "payments",
                "match": {"project": "payments"},
                "levels": [{"after": "0s", "notify": ["user:U0PAYLEAD"]}],
            },
            {
                "name": "platform",
                "match": {"project": ["platform", "storage"]},
                "levels": [{"after": "0s", "notify": ["user:U0PLAT"]}],
            },
        ]
    }
)
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def facts(project: str | None) -> IncidentFacts:
    return IncidentFacts(service="checkout", team=None, severity=Severity.CRITICAL, project=project)


def test_each_projects_incidents_get_their_projects_policy() -> None:
    chosen = {
        project: decide(RULES, facts(project), NOW)
        for project in ("payments", "platform", "storage", "default", None)
    }
    assert {p: (d.mode, d.policy.name if d.policy else None) for p, d in chosen.items()} == {
        "payments": (Mode.PAGE, "payments"),
        "platform": (Mode.PAGE, "platform"),
        "storage": (Mode.PAGE, "platform"),
        "default": (Mode.NONE, None),
        None: (Mode.NONE, None),
    }
