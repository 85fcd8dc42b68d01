"""Root cause: which of an incident's failing services most probably started it.

Failures travel from a dependency to its dependents, so the ranking is, in order:

1. services that depend on no other failing service (the most upstream ones; services that
   fail together in a dependency cycle do not count against each other);
2. failing services (an alert at `failing_severity`, error by default) before degraded ones
   (warnings only) — a warning on a dependency is as often an unrelated disk filling up as a
   cause, so it neither blocks its dependents nor outranks them;
3. a recent change (deploy, config push) shortly before the service's first alert;
4. how many of the incident's other services depend on it (the failures it explains);
5. the earliest first alert;
6. the tier (1 before 3), then the name, so the result is deterministic.

The confidence is the candidate's share of a softmax over evidence scores: one upstream
service that alerted first and explains every other failure gets most of it; two unrelated
upstream failures split it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from core.severity import Severity
from core.topology import Topology
from core.wording import clock, duration

DEFAULT_CHANGE_LOOKBACK = timedelta(minutes=30)
_SHARPNESS = 2.0
_MAX_CONFIDENCE = 0.99


class FailureFacts(Protocol):
    """What ranking needs per service of an incident (`incident_state.ServiceState` has it)."""

    @property
    def first_alert_at(self) -> datetime: ...

    @property
    def worst(self) -> Severity: ...


@dataclass(frozen=True)
class ServiceFailure:
    """A plain `FailureFacts`, for callers that summarize an incident themselves."""

    first_alert_at: datetime
    worst: Severity


@dataclass(frozen=True)
class RecentChange:
    """A change to a service (a deploy, a flag, a config push) at event time `at`."""

    service: str
    at: datetime
    summary: str


@dataclass(frozen=True)
class RootCause:
    """A candidate with its confidence (0–1) and the facts that placed it."""

    service: str
    confidence: float
    factors: tuple[str, ...]

    @property
    def why(self) -> str:
        return "; ".join(self.factors)

    def headline(self) -> str:
        """`Probable root cause: postgres (…), confidence 87 %` for the incident message."""
        return (
            f"Probable root cause: {self.service} ({self.why}), "
            f"confidence {round(self.confidence * 100)} %"
        )


@dataclass(frozen=True)
class _Evidence:
    service: str
    first_alert_at: datetime
    failing: bool
    tier: int
    declared_tier: bool
    failing_dependency: str | None
    dependents_failing: int
    dependents_after: int
    change: RecentChange | None

    @property
    def is_upstream(self) -> bool:
        return self.failing_dependency is None

    def order(self) -> tuple[bool, bool, bool, int, datetime, int, str]:
        return (
            not self.is_upstream,
            not self.failing,
            self.change is None,
            -self.dependents_failing,
            self.first_alert_at,
            self.tier,
            self.service,
        )


def rank_root_causes(
    services: Mapping[str, FailureFacts],
    topology: Topology,
    *,
    changes: Iterable[RecentChange] = (),
    change_lookback: timedelta = DEFAULT_CHANGE_LOOKBACK,
    failing_severity: Severity = Severity.ERROR,
) -> list[RootCause]:
    """Rank an incident's services (name → first alert and worst severity), most probable
    first."""
    if not services:
        return []
    first_alerts = {name: facts.first_alert_at for name, facts in services.items()}
    failing = {name for name, facts in services.items() if facts.worst >= failing_severity}
    upstream = {name: topology.upstream(name) for name in services}
    latest_change = _latest_changes(changes, first_alerts, change_lookback)
    evidence = []
    for name in services:
        blocking = [
            other
            for other in failing
            if other != name and other in upstream[name] and name not in upstream[other]
        ]
        dependents = [other for other in services if other != name and name in upstream[other]]
        service = topology.service(name)
        evidence.append(
            _Evidence(
                service=name,
                first_alert_at=first_alerts[name],
                failing=name in failing,
                tier=service.rank_tier,
                declared_tier=service.tier is not None,
                failing_dependency=min(blocking, key=lambda o: (upstream[name][o], o))
                if blocking
                else None,
                dependents_failing=len(dependents),
                dependents_after=sum(first_alerts[d] >= first_alerts[name] for d in dependents),
                change=latest_change.get(name),
            )
        )
    evidence.sort(key=_Evidence.order)
    first_at = min(first_alerts.values())
    scores = [_score(item, len(services), first_at) for item in evidence]
    top = max(scores)
    weights = [math.exp(_SHARPNESS * (score - top)) for score in scores]
    total = sum(weights)
    return [
        RootCause(
            service=item.service,
            confidence=round(min(weight / total, _MAX_CONFIDENCE), 2),
            factors=_factors(item, first_alerts, first_at),
        )
        for item, weight in zip(evidence, weights, strict=True)
    ]


def _latest_changes(
    changes: Iterable[RecentChange], first_alerts: Mapping[str, datetime], lookback: timedelta
) -> dict[str, RecentChange]:
    """Per failing service, its latest change within `lookback` before its first alert."""
    latest: dict[str, RecentChange] = {}
    for change in changes:
        first = first_alerts.get(change.service)
        if first is None or not first - lookback <= change.at <= first:
            continue
        seen = latest.get(change.service)
        if seen is None or change.at > seen.at:
            latest[change.service] = change
    return latest


def _score(item: _Evidence, failing: int, first_at: datetime) -> float:
    explained = item.dependents_failing / (failing - 1) if failing > 1 else 1.0
    return (
        2.0 * item.is_upstream
        + 1.0 * item.failing
        + 2.0 * explained
        + 1.0 * (item.first_alert_at == first_at)
        + 1.0 * (item.change is not None)
        + 0.15 * (3 - item.tier)
    )


def _factors(
    item: _Evidence, first_alerts: Mapping[str, datetime], first_at: datetime
) -> tuple[str, ...]:
    factors = []
    when = clock(item.first_alert_at)
    if item.first_alert_at == first_at:
        timing = f"failed first ({when})"
    else:
        timing = (
            f"first alert at {when}, {duration(item.first_alert_at - first_at)} after the first"
        )
    if not item.failing:
        timing += ", warnings only"
    if item.failing_dependency is None:
        factors.append(f"{timing} and depends on no failing service")
    else:
        factors.append(f"{timing}; depends on failing {item.failing_dependency}")
    if item.dependents_failing:
        count = item.dependents_failing
        noun = "service that depends" if count == 1 else "services that depend"
        after = (
            "alerted after it"
            if item.dependents_after == count
            else f"alerted, {item.dependents_after} of them after it"
        )
        factors.append(f"{count} {noun} on it {after}")
    if item.change is not None:
        before = duration(first_alerts[item.service] - item.change.at)
        factors.append(f"changed {before} before its first alert: {item.change.summary}")
    if item.declared_tier:
        factors.append(f"tier {item.tier}")
    return tuple(factors)
