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

With metric evidence (`MetricSupport`, from `core.metric_evidence.rank_services`: the golden
signals that moved at the incident's start), the evidence scores themselves order the
candidates, and the metrics add to them:

* up to `METRIC_MOST` points for the service whose series moved most, in proportion to its
  share of the strongest evidence;
* the point for failing first goes to the service whose trouble showed first, by its first
  alert or its first metric move, whichever came earlier (an alert fires after its rule's
  threshold and `for:` delay, the series moved before);
* a dependency of the incident's services whose metrics moved but which raised no alert
  joins the candidates (the share of the others a candidate explains counts it too): a
  silent database that moved first and most explains its callers' alerts.

Topology still counts for more than one service's metrics (being upstream and explaining
the others is worth up to 4 points, the metrics 3), so noisy series cannot lift a caller
above the dependency it waits on.
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
METRIC_MOST = 2.0  # points for the strongest metric evidence (as much as being upstream)
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
class MetricSupport:
    """What a service's golden signals say about it, from `core.metric_evidence.rank_services`:
    `evidence` (the summed `log(1 + |z|)` of its series, already discounted when a dependency
    moved more and earlier), the `series` that moved most and its robust z `score`, when its
    first series moved (`moved_at`, event time) and the dependency that `explained_by` it."""

    evidence: float
    series: str
    score: float
    moved_at: datetime
    explained_by: str | None = None


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
    alerted: bool = True  # False: a dependency that joined on its metrics alone
    metrics: MetricSupport | None = None

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
    metrics: Mapping[str, MetricSupport] | None = None,
) -> list[RootCause]:
    """Rank an incident's services (name → first alert and worst severity), most probable
    first. `metrics` (service → its metric evidence) adds the golden signals: then the
    evidence scores order the candidates, and a dependency of the incident's services whose
    metrics moved joins them even without an alert."""
    if not services:
        return []
    support = {name: item for name, item in (metrics or {}).items() if item.evidence > 0}
    first_alerts = {name: facts.first_alert_at for name, facts in services.items()}
    failing = {name for name, facts in services.items() if facts.worst >= failing_severity}
    upstream = {name: topology.upstream(name) for name in services}
    silent = sorted(
        name
        for name in support
        if name not in services and any(name in upstream[other] for other in services)
    )
    upstream.update({name: topology.upstream(name) for name in silent})
    support = {name: item for name, item in support.items() if name in services or name in silent}
    seen = {**first_alerts, **{name: support[name].moved_at for name in silent}}
    latest_change = _latest_changes(changes, first_alerts, change_lookback)
    evidence = []
    for name in seen:
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
                first_alert_at=seen[name],
                failing=name in failing,
                tier=service.rank_tier,
                declared_tier=service.tier is not None,
                failing_dependency=min(blocking, key=lambda o: (upstream[name][o], o))
                if blocking
                else None,
                dependents_failing=len(dependents),
                dependents_after=sum(first_alerts[d] >= seen[name] for d in dependents),
                change=latest_change.get(name),
                alerted=name in services,
                metrics=support.get(name),
            )
        )
    first_at = min(first_alerts.values())
    # When each candidate's trouble showed: its first alert or its first metric move.
    onset = {
        item.service: min(item.first_alert_at, item.metrics.moved_at)
        if item.metrics is not None
        else item.first_alert_at
        for item in evidence
    }
    first_onset = min(onset.values())
    scores = {
        item.service: _score(item, len(evidence), onset[item.service] == first_onset)
        + _metric_points(item, support)
        for item in evidence
    }
    if support:
        evidence.sort(key=lambda item: (-round(scores[item.service], 6), item.order()))
    else:
        evidence.sort(key=_Evidence.order)
    top = max(scores.values())
    weights = [math.exp(_SHARPNESS * (scores[item.service] - top)) for item in evidence]
    total = sum(weights)
    return [
        RootCause(
            service=item.service,
            confidence=round(min(weight / total, _MAX_CONFIDENCE), 2),
            factors=_factors(item, first_alerts, first_at, first_onset),
        )
        for item, weight in zip(evidence, weights, strict=True)
    ]


def _metric_points(item: _Evidence, support: Mapping[str, MetricSupport]) -> float:
    """The metrics' part of a candidate's score: its share of the strongest evidence."""
    if item.metrics is None:
        return 0.0
    strongest = max(other.evidence for other in support.values())
    return METRIC_MOST * item.metrics.evidence / strongest


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


def _score(item: _Evidence, candidates: int, first: bool) -> float:
    explained = item.dependents_failing / (candidates - 1) if candidates > 1 else 1.0
    return (
        2.0 * item.is_upstream
        + 1.0 * item.failing
        + 2.0 * explained
        + 1.0 * first
        + 1.0 * (item.change is not None)
        + 0.15 * (3 - item.tier)
    )


def _factors(
    item: _Evidence,
    first_alerts: Mapping[str, datetime],
    first_at: datetime,
    first_onset: datetime,
) -> tuple[str, ...]:
    factors = []
    when = clock(item.first_alert_at)
    if not item.alerted:
        timing = f"no alert, its metrics moved at {when}"
    elif item.first_alert_at == first_at:
        timing = f"failed first ({when})"
    else:
        timing = (
            f"first alert at {when}, {duration(item.first_alert_at - first_at)} after the first"
        )
    if item.alerted and not item.failing:
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
    if item.metrics is not None:
        factors.append(_metric_factor(item.metrics, first_onset))
    if item.declared_tier:
        factors.append(f"tier {item.tier}")
    return tuple(factors)


def _metric_factor(own: MetricSupport, first_onset: datetime) -> str:
    """`metrics moved first, before any alert: errors, robust z 14.0, at …` and the like."""
    text = "metrics moved first, before any alert: " if own.moved_at == first_onset else ""
    text = text or "metrics moved: "
    text += f"{own.series}, robust z {own.score:.1f}, at {clock(own.moved_at)}"
    if own.explained_by:
        text += f" (discounted: {own.explained_by}, which it calls, moved more and earlier)"
    return text
