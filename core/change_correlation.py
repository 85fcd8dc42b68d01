"""Which recent change most probably caused an incident: a score per change, 0–1.

Most incidents follow a change (Google's SRE book counts roughly 70 % of outages as caused by
changes in a live system), and the closer a change lands before the first alert, on the very
service that fails, in the same environment, the likelier it is the cause. A change's score is
the product of four factors, each 0–1, so one weak factor (another environment, a change three
hops away) pulls the whole score down:

* **timing** — `0.5 ** (minutes / half_life)`: a change that landed as the first alert fired
  scores 1, one `half_life` (60 min) earlier 0.5; changes more than `window` (2 h) before the
  first alert, or after it, are not candidates. A change still rolling out when the first
  alert fired counts as landing then.
* **service** — the same service as one of the incident's 1.0; a service the failing one
  depends on 0.7, less per further hop; a service that depends on a failing one (its callers
  may send it what breaks it) 0.4; anything else 0.15.
* **environment** — the same 1.0; unknown on either side 0.85; different 0.3.
* **kind** — a deployment or a config push 1.0, a feature flag 0.9, a manual step 0.8,
  scaling 0.6.

A change scoring `STRONG` (0.6) or more is shown on the incident's message and raises its
service in the root-cause ranking (`core.root_cause`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from core.changes import ChangeEvent, ChangeKind, normalize_environment
from core.topology import Topology

WINDOW = timedelta(hours=2)
HALF_LIFE = timedelta(minutes=60)
CLOCK_SKEW = timedelta(minutes=2)  # a change stamped a little after the alert still counts
STRONG = 0.6

KIND_WEIGHT = {
    ChangeKind.DEPLOYMENT: 1.0,
    ChangeKind.CONFIG: 1.0,
    ChangeKind.FEATURE_FLAG: 0.9,
    ChangeKind.MANUAL: 0.8,
    ChangeKind.SCALING: 0.6,
}
SAME_SERVICE, DEPENDENCY, DEPENDENT, OTHER = 1.0, 0.7, 0.4, 0.15
SAME_ENVIRONMENT, UNKNOWN_ENVIRONMENT, OTHER_ENVIRONMENT = 1.0, 0.85, 0.3


@dataclass(frozen=True)
class ScoredChange:
    """A change with its score and why: `relation` says how its service relates to the
    incident's (`same`, `dependency`, `dependent`, `other`), `service` which of the incident's
    services it relates to, `factors` the four factors by name."""

    change: ChangeEvent
    score: float
    service: str
    relation: str
    minutes_before: float
    factors: Mapping[str, float]

    @property
    def strong(self) -> bool:
        return self.score >= STRONG

    def headline(self) -> str:
        """`⚠ checkout v2.3.1 deployed 15 min before — score 0.85`."""
        minutes = round(self.minutes_before)
        when = "as the first alert fired" if minutes <= 0 else f"{minutes} min before"
        return f"⚠ {self.change.what()} {when} — score {self.score:.2f}"

    def record(self) -> dict[str, Any]:
        return {
            "change": self.change.record(),
            "score": self.score,
            "service": self.service,
            "relation": self.relation,
            "minutes_before": round(self.minutes_before, 1),
            "factors": dict(self.factors),
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> ScoredChange:
        return cls(
            change=ChangeEvent.from_record(record["change"]),
            score=float(record["score"]),
            service=str(record["service"]),
            relation=str(record["relation"]),
            minutes_before=float(record["minutes_before"]),
            factors={str(k): float(v) for k, v in (record.get("factors") or {}).items()},
        )


def _relation(
    change_service: str, failing: Iterable[str], topology: Topology
) -> tuple[str, str, float]:
    """The closest relation between a changed service and any failing service."""
    best = ("other", "", OTHER)
    for name in failing:
        if change_service == name:
            return ("same", name, SAME_SERVICE)
        hops = topology.upstream(name).get(change_service)
        if hops is not None:
            weight = DEPENDENCY * 0.8 ** (hops - 1)
            if weight > best[2]:
                best = ("dependency", name, weight)
        back = topology.downstream(name, max_hops=1).get(change_service)
        if back is not None and best[2] < DEPENDENT:
            best = ("dependent", name, DEPENDENT)
    return best


def _environment_weight(change: str | None, incident: str | None) -> float:
    ours, theirs = normalize_environment(change), normalize_environment(incident)
    if ours is None or theirs is None:
        return UNKNOWN_ENVIRONMENT
    return SAME_ENVIRONMENT if ours == theirs else OTHER_ENVIRONMENT


def score_changes(
    changes: Iterable[ChangeEvent],
    *,
    services: Iterable[str],
    first_alert_at: datetime,
    topology: Topology,
    environment: str | None = None,
    window: timedelta = WINDOW,
    half_life: timedelta = HALF_LIFE,
) -> list[ScoredChange]:
    """Score each change that landed in `window` before `first_alert_at` against an
    incident's `services` (best first; ties by the later change). Changes outside the window
    are left out."""
    failing = sorted(set(services))
    scored: list[ScoredChange] = []
    for change in changes:
        if change.started_at > first_alert_at + CLOCK_SKEW:
            continue
        landed = min(change.landed_at, first_alert_at)
        before = first_alert_at - landed
        if before > window:
            continue
        minutes = max(before.total_seconds(), 0.0) / 60
        timing = 0.5 ** (minutes * 60 / half_life.total_seconds())
        relation, matched, service_weight = "other", failing[0] if failing else "", OTHER
        for changed in change.services:
            found = _relation(changed, failing, topology)
            if found[2] > service_weight:
                relation, matched, service_weight = found
        factors = {
            "timing": round(timing, 3),
            "service": round(service_weight, 3),
            "environment": _environment_weight(change.environment, environment),
            "kind": KIND_WEIGHT[change.kind],
        }
        score = 1.0
        for value in factors.values():
            score *= value
        scored.append(ScoredChange(change, round(score, 2), matched, relation, minutes, factors))
    scored.sort(key=lambda item: (-item.score, -item.change.landed_at.timestamp()))
    return scored


def strongest(scored: Iterable[ScoredChange]) -> ScoredChange | None:
    """The best change when it is strong enough to name, else None."""
    for item in scored:
        return item if item.strong else None
    return None


def incident_environment(labels: Iterable[Mapping[str, Any]]) -> str | None:
    """The environment an incident's alerts name most (their `environment` or `env` label),
    or None when none does."""
    counts: dict[str, int] = {}
    for label_set in labels:
        value = label_set.get("environment") or label_set.get("env")
        if isinstance(value, str) and (name := normalize_environment(value)):
            counts[name] = counts.get(name, 0) + 1
    if not counts:
        return None
    return max(sorted(counts), key=lambda name: counts[name])
