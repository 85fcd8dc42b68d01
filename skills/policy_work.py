"""Policies at work: an incident's facts for `core.policies` conditions, and a rule's action
carried out — once per incident episode (a unique row), recorded in the incident's timeline
(kind `policy`) and the audit log (platform `policy`, the rule's name as the user), with a
line posted in the incident's thread.

Used by the background policy pass (every incident change, and a timer for rules on `age`
and `idle`) and by `policies test`, which shows the same facts and checks without acting.
Facts read only the database: `precedent` and `confidence` come from the stored "Seen
before?" check and the root cause, never from the index."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from core.incidents import IncidentStatus, display_id
from core.policies import Facts, Outcome
from core.severity import parse_severity
from storage.alerts import AlertRepository
from storage.knowledge import KnowledgeRepository
from storage.models import IncidentRow, PolicyFiringRow
from storage.uow import UnitOfWork


async def incident_facts(
    *,
    alerts: AlertRepository,
    knowledge: KnowledgeRepository | None,
    incident: IncidentRow,
    now: datetime,
) -> dict[str, Any]:
    """The facts `core.policies.VOCABULARY` names, for one incident at `now` (durations in
    seconds, never negative)."""
    briefs = (await alerts.briefs(incident_ids=[incident.id])).get(incident.id, [])
    current = [
        brief for brief in briefs if brief.firing or brief.last_at >= incident.episode_started_at
    ]
    label_sets = await alerts.label_sets(incident_id=incident.id)
    shared: dict[str, str] = {}
    if label_sets:
        first = label_sets[0]
        shared = {
            str(key): str(value)
            for key, value in first.items()
            if all(labels.get(key) == value for labels in label_sets[1:])
        }
    hint = await knowledge.hint(incident_id=incident.id) if knowledge is not None else None
    matches = list(hint.snapshot.get("matches", [])) if hint is not None and hint.matched else []
    best = max((float(match.get("similarity") or 0.0) for match in matches), default=0.0)
    cause = incident.root_cause or {}
    confidence = float(cause.get("confidence") or 0.0) if isinstance(cause, dict) else 0.0
    firing = sum(brief.count for brief in briefs if brief.firing)
    return {
        "severity": parse_severity(incident.severity).label,
        "status": incident.status,
        "acknowledged": incident.acknowledged_at is not None,
        # Resolved, or its alerts all resolved (an incident of a project that keeps
        # incidents open past their alerts, `resolve_with_alerts: false`).
        "resolved": incident.status == IncidentStatus.RESOLVED or (bool(briefs) and not firing),
        "alerts": sum(brief.count for brief in current),
        "firing": firing,
        "service": incident.service,
        "project": incident.project,
        "age": max(0, int((now - incident.opened_at).total_seconds())),
        "idle": max(0, int((now - incident.last_alert_at).total_seconds())),
        "confidence": round(confidence or best, 3),
        "precedent": bool(matches),
        "flapping": incident.episode > 1,
        "episodes": incident.episode,
        "labels": shared,
    }


def why(outcome: Outcome) -> dict[str, Any]:
    """What a firing records of its reasons: the condition and each comparison's result."""
    return {
        "rule": outcome.rule.name,
        "when": outcome.rule.condition.text,
        "then": str(outcome.rule.action),
        "checks": [check.line() for check in outcome.verdict.checks],
    }


def _precedent_line(matches: list[dict[str, Any]]) -> str:
    parts = []
    for match in matches[:3]:
        past = display_id(int(match["incident_id"]))
        text = (
            f"{past} · {match.get('title', '')} ({float(match.get('similarity') or 0):.0%} alike)"
        )
        if match.get("fix"):
            text += f", fixed by: _{match['fix']}_"
        parts.append(text)
    return "; ".join(parts)


async def fire(
    uow: UnitOfWork, incident: IncidentRow, outcome: Outcome, facts: Facts, *, now: datetime
) -> PolicyFiringRow | None:
    """Carry out `outcome`'s action on `incident` (loaded for update in `uow`) unless its
    rule fired on this episode already (another replica, a retry): then None and nothing
    changes. Records the firing, the timeline event and the audit entry."""
    rule, action = outcome.rule, outcome.rule.action
    ref = display_id(incident.id)
    who = f"policy {rule.name}"
    detail = why(outcome)
    said: str
    if action.kind == "auto_close":
        said = f"resolved {ref}"
    elif action.kind == "set_severity":
        before = parse_severity(incident.severity).label
        said = f"set {ref}'s severity {before} → {action.argument}"
        detail["from"] = before
    elif action.kind == "post_suggestion":
        hint = await uow.knowledge.hint(incident_id=incident.id)
        matches = list(hint.snapshot.get("matches", [])) if hint is not None else []
        said = f"seen before — {_precedent_line(matches)}"
    else:
        said = rule.message or f"matched {ref}"
    message = f"🤖 Policy **{rule.name}** {said}.\nWhy: `{rule.condition.text}`"
    firing = await uow.policies.fire(
        incident_id=incident.id,
        episode=incident.episode,
        rule=rule.name,
        project=incident.project,
        action=str(action),
        detail=detail,
        message=message,
        now=now,
    )
    if firing is None:
        return None
    if action.kind == "auto_close":
        await uow.episodes.resolved(incident=incident, by=who, at=now, resolution="policy")
        await uow.incidents.add_event(
            incident_id=incident.id,
            kind="resolved",
            text=f"Resolved by {who}",
            at=now,
            actor=who,
            data={"episode": incident.episode, "policy": rule.name},
        )
    elif action.kind == "set_severity" and action.argument is not None:
        incident.severity = action.argument
        incident.severity_set_by = who[:255]
    await uow.incidents.add_event(
        incident_id=incident.id,
        kind="policy",
        text=f"Policy {rule.name} {said} (when {rule.condition.text})",
        at=now,
        actor=who,
        data=detail,
    )
    incident.revision += 1
    await uow.audit.record(
        at=now,
        platform="policy",
        user_id=rule.name,
        user_name=rule.name,
        action=action.kind,
        outcome="fired",
        target=ref,
        detail=detail,
        project=incident.project,
    )
    return firing
