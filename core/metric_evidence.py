"""Metric evidence: which series moved at an incident's change point, how much, and first.

Two scores of how far a series moved after the change point, against its own baseline:

* **robust z** (BARO, Pham et al., "BARO: Robust Root Cause Analysis for Microservices via
  Multivariate Bayesian Online Change Point Detection", FSE 2024): `|x - median| / IQR` of the
  baseline, the largest over the anomalous window. Median and inter-quartile range ignore the
  spikes a baseline always has, so one old spike does not hide a real move.
* **n-sigma** (the NSigma baseline of the RCAEval benchmark, Pham et al., WWW 2025):
  `|x - mean| / std`, the plain statistic, kept as the bench's baseline.

The robust spread is never below 1 % of the baseline's level (a smaller move is measurement
noise); an inter-quartile range of zero falls back to the median absolute deviation first.
So a flat series that moves still scores high, and one that stays flat scores zero.

`rank_services` turns scored series into root-cause candidates: a service's score sums the
evidence `log(1 + |z|)` of its series (so a cause that moves CPU, latency and errors together
outranks a caller whose one tail-latency series jumped off a flat baseline), and — since
failures travel from a dependency to its callers — a service whose own dependency moved more
and earlier is discounted (`core.root_cause` applies the same rule to alerts). The series
that moved *first* break ties: an anomaly that starts earlier is nearer the cause.

The change point is searched for from a little before the incident's start (`split`): a
cause's metrics often move minutes before its symptom's alert fires, and a move inside the
baseline would both hide itself and make every early mover look equally early.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Method = Literal["robust", "nsigma"]
MOVED = 3.0  # |z| from which a point counts as moved (the three-sigma rule)
_EPSILON_SHARE = 0.01  # a flat baseline's spread: 1 % of its level
_FLOOR = 1e-9


@dataclass(frozen=True)
class Movement:
    """How one series moved: `score` (|z| at its largest), `direction` (+1 up, -1 down),
    `moved_index` (first point of the anomalous window with |z| ≥ 3, or None), `baseline`
    (the baseline's median) and `peak` (the value at the largest |z|)."""

    score: float
    direction: int
    moved_index: int | None
    baseline: float
    peak: float


def _finite(values: Iterable[float]) -> list[float]:
    return [value for value in values if value is not None and math.isfinite(value)]


def _spread(normal: Sequence[float], center: float, method: Method) -> float:
    if method == "nsigma":
        spread = statistics.pstdev(normal) if len(normal) > 1 else 0.0
    else:
        quartiles = statistics.quantiles(normal, n=4, method="inclusive") if len(normal) > 1 else []
        spread = quartiles[2] - quartiles[0] if quartiles else 0.0
        if spread <= _FLOOR:
            spread = 1.4826 * statistics.median(abs(value - center) for value in normal)
        # A move smaller than 1 % of the series' level is measurement noise, however
        # steady the baseline was.
        return max(spread, abs(center) * _EPSILON_SHARE, _FLOOR)
    if spread <= _FLOOR:
        spread = max(abs(center) * _EPSILON_SHARE, _FLOOR)
    return spread


def split(
    points: Iterable[tuple[float, float]], change_from: float
) -> tuple[list[float], list[float], list[float]]:
    """A series of (Unix seconds, value) points cut at `change_from` (Unix seconds): (the
    baseline values before it, the values from it on, the times of the latter)."""
    baseline: list[float] = []
    window: list[float] = []
    times: list[float] = []
    for at, value in points:
        if at < change_from:
            baseline.append(value)
        else:
            window.append(value)
            times.append(at)
    return baseline, window, times


def movement(
    normal: Iterable[float], anomalous: Iterable[float], method: Method = "robust"
) -> Movement | None:
    """How far `anomalous` (the points from the change point on) moved against `normal`
    (the baseline before it); None when either has no finite value."""
    base = _finite(normal)
    after = _finite(anomalous)
    if not base or not after:
        return None
    center = statistics.fmean(base) if method == "nsigma" else statistics.median(base)
    spread = _spread(base, center, method)
    scores = [(value - center) / spread for value in after]
    peak_index = max(range(len(scores)), key=lambda i: abs(scores[i]))
    moved = next((i for i, z in enumerate(scores) if abs(z) >= MOVED), None)
    return Movement(
        score=abs(scores[peak_index]),
        direction=1 if scores[peak_index] >= 0 else -1,
        moved_index=moved,
        baseline=center,
        peak=after[peak_index],
    )


@dataclass(frozen=True)
class ServiceScore:
    """A candidate: the service, its score (the evidence of all its series), the series
    that moved most, when it first moved (index into the anomalous window; None if no point
    reached |z| 3) and, when discounted, the dependency that explains it better."""

    service: str
    score: float
    series: str
    moved_index: int | None
    explained_by: str | None = None


def evidence(score: float) -> float:
    """One series' evidence: `log(1 + |z|)`. A service's evidence is the sum over its
    series, so several moved series (CPU, then latency, then errors) outweigh one series
    whose flat baseline makes a small move look enormous."""
    return math.log1p(score)


def rank_services(
    movements: Mapping[tuple[str, str], Movement],
    *,
    dependencies: Mapping[str, Iterable[str]] | None = None,
    discount: float = 0.5,
) -> list[ServiceScore]:
    """Rank services by the summed evidence of their series ((service, series name) →
    Movement), best first. With `dependencies` (service → the services it calls), a service
    whose dependency has more evidence and moved earlier keeps only `discount` of its
    score: failures travel from a dependency to its callers."""
    totals: dict[str, float] = {}
    strongest: dict[str, tuple[str, Movement]] = {}
    for (service, series), moved in movements.items():
        totals[service] = totals.get(service, 0.0) + evidence(moved.score)
        known = strongest.get(service)
        if known is None or moved.score > known[1].score:
            strongest[service] = (series, moved)
    best = {
        name: ServiceScore(name, totals[name], series, _first_move(name, movements))
        for name, (series, _) in strongest.items()
    }
    ranked = dict(best)
    for name, own in best.items():
        for dependency in (dependencies or {}).get(name, ()):
            other = best.get(dependency)
            if other is None or other.score <= own.score or not _no_later(other, own):
                continue
            ranked[name] = ServiceScore(
                name, own.score * discount, own.series, own.moved_index, explained_by=dependency
            )
            break
    return sorted(ranked.values(), key=_order)


def _first_move(service: str, movements: Mapping[tuple[str, str], Movement]) -> int | None:
    moves = [
        moved.moved_index
        for (name, _), moved in movements.items()
        if name == service and moved.moved_index is not None
    ]
    return min(moves) if moves else None


def _no_later(dependency: ServiceScore, service: ServiceScore) -> bool:
    if dependency.moved_index is None:
        return False
    return service.moved_index is None or dependency.moved_index < service.moved_index


def _order(item: ServiceScore) -> tuple[float, int, str]:
    first = item.moved_index if item.moved_index is not None else 1 << 30
    return (-round(item.score, 6), first, item.service)


# ---------------------------------------------------------------- golden signals config


class SignalQuery(BaseModel):
    """One golden signal as a PromQL template: `$service` is replaced by the service's name
    (quoted for a label matcher), and the query answers one series for that service."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=64)
    expr: str = Field(min_length=1)
    unit: Literal["percent", "seconds", "number", "per_second"] = "number"


def default_signals() -> list[SignalQuery]:
    """Rate, errors, latency and saturation as the common instrumentation names them
    (Prometheus client libraries, OpenTelemetry's Prometheus exporter)."""
    selector = 'service="$service"'
    return [
        SignalQuery(
            name="rate",
            expr=f"sum(rate(http_requests_total{{{selector}}}[5m]))",
            unit="per_second",
        ),
        SignalQuery(
            name="errors",
            expr=(
                f'sum(rate(http_requests_total{{{selector},code=~"5.."}}[5m]))'
                f" / sum(rate(http_requests_total{{{selector}}}[5m]))"
            ),
            unit="percent",
        ),
        SignalQuery(
            name="latency p99",
            expr=(
                "histogram_quantile(0.99, sum by (le) "
                f"(rate(http_request_duration_seconds_bucket{{{selector}}}[5m])))"
            ),
            unit="seconds",
        ),
        SignalQuery(
            name="saturation",
            expr=f"max(rate(process_cpu_seconds_total{{{selector}}}[5m]))",
            unit="number",
        ),
    ]


class SignalRules(BaseModel):
    """The `signals:` section of LOOKOUT_CONFIG: the golden signals per service and the
    windows evidence is read over (used when PROMETHEUS_URL is set)."""

    model_config = ConfigDict(extra="forbid")

    queries: list[SignalQuery] = Field(default_factory=default_signals)
    lookback_minutes: float = Field(default=60, gt=0, le=24 * 60, description="before the start")
    lead_minutes: float = Field(
        default=15,
        ge=0,
        le=24 * 60,
        description="how long before the start a move may begin (at most a quarter of the "
        "lookback, which keeps the rest as baseline)",
    )
    after_minutes: float = Field(default=10, ge=0, le=120, description="after the start")
    step_seconds: float = Field(default=30, gt=0, le=3600)
    timeout_seconds: float = Field(default=5, gt=0, le=60)

    @property
    def lead(self) -> timedelta:
        """How long before the start the change point is looked for: `lead_minutes`, but
        never more than a quarter of the lookback, so a short lookback keeps a baseline."""
        return timedelta(minutes=min(self.lead_minutes, self.lookback_minutes / 4))


def render(template: str, service: str) -> str:
    """The template with `$service` replaced by `service`, escaped for a PromQL string."""
    escaped = service.replace("\\", "\\\\").replace('"', '\\"')
    return template.replace("$service", escaped)
