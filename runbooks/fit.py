"""How well a runbook fits an incident, and why: what `runbooks --incident` ranks by.

Each alert of the incident is held against each of the runbook's triggers (see
`schema.Trigger`); what matched adds to the score and becomes a reason a person can check:

| evidence | points |
|---|---|
| the alert's name matches one of the trigger's `alerts` | 3 |
| the alert's rule queries one of the trigger's `metrics` | 3 |
| the alert's service is of one of the trigger's `service_types` | 2 |
| the alert's service is one of the trigger's `services` | 2 |
| each label constraint that holds | 1 |
| the alert is on the incident's probable root cause | 1 |

An alert that has resolved counts half. The runbook's fit is its best alert's score, plus a
tenth of a point for every further alert that fits (at most five), plus 4 when the service
catalog lists the runbook for one of the incident's services (its owners said so). Ties are
broken by the caller (past success, then name).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from core.alert_rules import metric_names, rule_expression
from runbooks.schema import Runbook, Trigger

NAME_POINTS = 3.0
METRIC_POINTS = 3.0
SERVICE_TYPE_POINTS = 2.0
SERVICE_POINTS = 2.0
LABEL_POINTS = 1.0
ROOT_CAUSE_POINTS = 1.0
CATALOG_POINTS = 4.0
RESOLVED_WEIGHT = 0.5
MORE_ALERTS_POINTS = 0.1
MORE_ALERTS_COUNTED = 5


@dataclass(frozen=True)
class AlertFacts:
    """What fitting needs of one alert of the incident."""

    name: str
    labels: Mapping[str, str]
    service: str | None = None
    firing: bool = True
    generator_url: str | None = None

    @property
    def metrics(self) -> frozenset[str]:
        return metric_names(rule_expression(self.generator_url))


@dataclass(frozen=True)
class ServiceFacts:
    """What the catalog says of one service: its type and the runbooks it lists."""

    name: str
    type: str | None = None
    runbooks: tuple[str, ...] = ()


@dataclass(frozen=True)
class Fit:
    """`score` (0 means it does not fit), the reasons in order of weight, and the alert that
    fits best (a run for the incident reads its parameters from that alert first)."""

    score: float
    reasons: tuple[str, ...] = ()
    alert: AlertFacts | None = None
    alerts: int = 0  # how many of the incident's alerts fit

    def __bool__(self) -> bool:
        return self.score > 0


@dataclass
class _AlertFit:
    score: float = 0.0
    reasons: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Evidence:
    """What one trigger found in one alert."""

    pattern: str | None = None
    metrics: frozenset[str] = frozenset()
    labels: tuple[tuple[str, str], ...] = ()
    service: str | None = None
    service_type: str | None = None


def fit(
    runbook: Runbook,
    alerts: Sequence[AlertFacts],
    *,
    services: Mapping[str, ServiceFacts] | None = None,
    root_cause: str | None = None,
) -> Fit:
    """How `runbook` fits an incident with `alerts`; `services` is the catalog by name."""
    catalog = services or {}
    best: tuple[_AlertFit, AlertFacts] | None = None
    fitting = 0
    for alert in alerts:
        found = _best_trigger(runbook.triggers, alert, catalog.get(alert.service or ""))
        if found is None:
            continue
        if root_cause and alert.service == root_cause:
            found.score += ROOT_CAUSE_POINTS
            found.reasons.append("on the probable root cause")
        if not alert.firing:
            found.score *= RESOLVED_WEIGHT
            found.reasons.append("resolved")
        fitting += 1
        if best is None or found.score > best[0].score:
            best = (found, alert)
    listed = sorted(
        {name for name in _incident_services(alerts) if runbook.name in _listed(catalog, name)}
    )
    score = 0.0
    reasons: list[str] = []
    if listed:
        score += CATALOG_POINTS
        reasons.append(f"the service catalog lists it for {', '.join(listed)}")
    if best is not None:
        score += best[0].score + MORE_ALERTS_POINTS * min(fitting - 1, MORE_ALERTS_COUNTED)
        reasons.append(", ".join(best[0].reasons))
        if fitting > 1:
            reasons.append(f"{fitting} alerts fit")
    return Fit(round(score, 2), tuple(reasons), best[1] if best else None, fitting)


def _best_trigger(
    triggers: Sequence[Trigger], alert: AlertFacts, service: ServiceFacts | None
) -> _AlertFit | None:
    """The alert's fit over all triggers it meets: each kind of evidence counts once (the
    most specific name pattern, every metric, label and service fact found)."""
    found = [e for t in triggers if (e := _evidence(t, alert, service)) is not None]
    if not found:
        return None
    patterns = [e.pattern for e in found if e.pattern]
    pattern = max(patterns, key=_specificity) if patterns else None
    metrics = sorted(set().union(*(e.metrics for e in found)))
    labels = dict(pair for e in found for pair in e.labels)
    on_service = next((e.service for e in found if e.service), None)
    kind = next((e.service_type for e in found if e.service_type), None)
    result = _AlertFit()
    if pattern is not None:
        result.score += NAME_POINTS
        same = pattern.lower() == alert.name.lower()
        result.reasons.append(f"alert {alert.name}" + ("" if same else f" matches {pattern}"))
        if metrics:
            result.reasons.append(f"its rule queries {', '.join(metrics)}")
    elif metrics:
        result.reasons.append(f"alert {alert.name} queries {', '.join(metrics)}")
    else:
        result.reasons.append(f"alert {alert.name}")
    if metrics:
        result.score += METRIC_POINTS
    if labels:
        result.score += LABEL_POINTS * len(labels)
        result.reasons.append(", ".join(f"{key}={value}" for key, value in labels.items()))
    if on_service:
        result.score += SERVICE_POINTS
        result.reasons.append(f"on {on_service}")
    if kind:
        result.score += SERVICE_TYPE_POINTS
        result.reasons.append(f"{alert.service} is a {kind} service")
    return result if result.score > 0 else None


def _specificity(pattern: str) -> int:
    return sum(1 for char in pattern if char not in "*?[]")


def _evidence(
    trigger: Trigger, alert: AlertFacts, service: ServiceFacts | None
) -> _Evidence | None:
    """What `trigger` finds in `alert`, or None when the alert does not fit it."""
    pattern: str | None = None
    queried: frozenset[str] = frozenset()
    if trigger.alerts or trigger.metrics:
        pattern = trigger.alert_pattern(alert.name)
        queried = alert.metrics & frozenset(trigger.metrics)
        if pattern is None and not queried:
            return None
    if trigger.label_mismatch(alert.labels) is not None:
        return None
    labels = tuple((key, alert.labels.get(key, "")) for key in trigger.labels)
    if trigger.services and alert.service not in trigger.services:
        return None
    kind: str | None = None
    if trigger.service_types:
        kind = (service.type or "").lower() if service else ""
        if kind not in {t.lower() for t in trigger.service_types}:
            return None
    return _Evidence(
        pattern=pattern,
        metrics=queried,
        labels=labels,
        service=alert.service if trigger.services else None,
        service_type=kind,
    )


def _incident_services(alerts: Sequence[AlertFacts]) -> list[str]:
    return list(dict.fromkeys(alert.service for alert in alerts if alert.service))


def _listed(catalog: Mapping[str, ServiceFacts], name: str) -> tuple[str, ...]:
    service = catalog.get(name)
    return service.runbooks if service else ()
