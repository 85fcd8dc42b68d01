"""Dependency health from service-graph metrics: each call edge's request rate, error ratio and
latency now, against its own baseline.

Two metric shapes are understood, as their projects define them:

* Tempo's metrics-generator (Grafana Tempo, "Service graphs"): the counters
  `traces_service_graph_request_total` and `traces_service_graph_request_failed_total`
  and the histogram `traces_service_graph_request_server_seconds`, labelled
  `client` and `server`;
* Istio's standard metrics ("Istio Standard Metrics"): the counter `istio_requests_total`
  (`response_code` says which failed) and the histogram
  `istio_request_duration_milliseconds`, labelled `source_workload` and
  `destination_workload`. Both proxies of a call may report it (`reporter` is `source` or
  `destination`), so a rate takes the larger of the two reports instead of their sum.

An edge is judged by what moved against its baseline (the same window a day or a week
earlier, or the hour before): its error ratio (failed / all requests over the window),
its latency quantile (the mean of the per-step quantiles) and its request rate. Each rule
needs both a relative move and an absolute floor, so a quiet edge going from 0.01 % to
0.03 % errors, or from 2 ms to 4 ms, stays healthy. See `DependencyRules` for the numbers.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from core.blast_radius import ServiceStatus

Signal = Literal["requests", "errors", "latency"]
Source = Literal["tempo", "istio"]
Against = Literal["1h", "1d", "1w"]
Points = list[tuple[float, float]]
RANK = {ServiceStatus.HEALTHY: 0, ServiceStatus.DEGRADED: 1, ServiceStatus.FAILING: 2}
_DURATION = r"^\d+(ms|s|m|h|d|w)$"


@dataclass(frozen=True)
class GraphShape:
    """One service-graph metric family: its edge labels and PromQL templates for the
    request rate, the failed-request rate and the latency quantile in seconds, each
    answering one series per (client, server). `$selector` is a label matcher list (may be
    empty), `$interval` the rate window, `$quantile` the latency quantile."""

    name: str
    client: str
    server: str
    requests: str
    failures: str
    latency: str

    def selector(self, services: Sequence[str] | None) -> str:
        """The label matcher for calls made by `services` (empty: every call)."""
        if services is None:
            return ""
        if len(services) == 1:
            return f'{self.client}="{_string(services[0])}"'
        alternatives = "|".join(re.escape(name) for name in sorted(set(services)))
        return f'{self.client}=~"{_string(alternatives)}"'


def _string(text: str) -> str:
    """`text` inside a PromQL double-quoted string."""
    return text.replace("\\", "\\\\").replace('"', '\\"')


TEMPO = GraphShape(
    name="tempo",
    client="client",
    server="server",
    requests=(
        "sum by (client, server) (rate(traces_service_graph_request_total{$selector}[$interval]))"
    ),
    failures=(
        "sum by (client, server) "
        "(rate(traces_service_graph_request_failed_total{$selector}[$interval]))"
    ),
    latency=(
        "histogram_quantile($quantile, sum by (client, server, le) "
        "(rate(traces_service_graph_request_server_seconds_bucket{$selector}[$interval])))"
    ),
)
ISTIO = GraphShape(
    name="istio",
    client="source_workload",
    server="destination_workload",
    requests=(
        "max by (source_workload, destination_workload) "
        "(sum by (source_workload, destination_workload, reporter) "
        "(rate(istio_requests_total{$selector}[$interval])))"
    ),
    failures=(
        "max by (source_workload, destination_workload) "
        "(sum by (source_workload, destination_workload, reporter) "
        "(rate(istio_requests_total{$selector$failed}[$interval])))"
    ),
    latency=(
        "histogram_quantile($quantile, sum by (source_workload, destination_workload, le) "
        "(rate(istio_request_duration_milliseconds_bucket{$selector}[$interval]))) / 1000"
    ),
)
SHAPES = {shape.name: shape for shape in (TEMPO, ISTIO)}


class DependencyRules(BaseModel):
    """The `dependency_health:` section of LOOKOUT_CONFIG (used with PROMETHEUS_URL).

    A dependency is **failing** when its error ratio is at least `errors_failing_above`
    and at least `error_factor` times its baseline's, or its latency at least
    `latency_failing_factor` times the baseline's; **degraded** when its error ratio is at
    least `errors_degraded_above` and `error_factor` times the baseline's, its latency
    `latency_factor` times the baseline's (and `latency_floor_seconds` more), or its
    traffic fell by `traffic_drop` or more, or grew `traffic_surge` times (a retry storm
    looks like that). With no baseline only the absolute error thresholds apply."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    sources: list[Source] = Field(default_factory=lambda: list[Source](["tempo", "istio"]))
    rate_interval: str = Field(default="5m", pattern=_DURATION, description="PromQL rate window")
    quantile: float = Field(default=0.95, gt=0, lt=1)
    window_minutes: float = Field(default=15, gt=0, le=24 * 60, description="`health` default")
    timeout_seconds: float = Field(default=5, gt=0, le=60)
    max_dependencies: int = Field(default=12, ge=1, le=100)
    errors_degraded_above: float = Field(default=0.01, ge=0, le=1)
    errors_failing_above: float = Field(default=0.05, ge=0, le=1)
    error_factor: float = Field(default=2.0, ge=1)
    latency_factor: float = Field(default=1.5, gt=1)
    latency_failing_factor: float = Field(default=3.0, gt=1)
    latency_floor_seconds: float = Field(default=0.01, ge=0)
    traffic_drop: float = Field(default=0.5, gt=0, le=1)
    traffic_surge: float = Field(default=3.0, gt=1)

    @field_validator("sources")
    @classmethod
    def _some_source(cls, value: list[Source]) -> list[Source]:
        if not value:
            raise ValueError("name at least one source: tempo, istio")
        return list(dict.fromkeys(value))

    @property
    def shapes(self) -> list[GraphShape]:
        return [SHAPES[name] for name in self.sources]

    def render(self, template: str, shape: GraphShape, services: Sequence[str] | None) -> str:
        """A shape's template as PromQL for the calls `services` make (all when None)."""
        failed = ',response_code=~"5.."'
        selector = shape.selector(services)
        query = template.replace("$selector$failed", (selector + failed).lstrip(","))
        return (
            query.replace("$selector", selector)
            .replace("$interval", self.rate_interval)
            .replace("$quantile", f"{self.quantile:g}")
        )


@dataclass(frozen=True)
class EdgeSignals:
    """One edge over one window: mean request rate (requests/s), error ratio (failed /
    all requests over the window; NaN without traffic) and mean latency quantile (s; NaN
    without a histogram), and the per-step points of each."""

    rate: float
    error_ratio: float
    latency: float
    points: Mapping[Signal, Points] = field(default_factory=dict)

    def value(self, signal: Signal) -> float:
        return {"requests": self.rate, "errors": self.error_ratio, "latency": self.latency}[signal]

    def record(self) -> dict[str, float | None]:
        return {
            "rate": _number(self.rate),
            "error_ratio": _number(self.error_ratio),
            "latency": _number(self.latency),
        }


def signals_from(requests: Points, failures: Points, latency: Points) -> EdgeSignals:
    """An edge's signals from its three range-query series (failures may be absent: a
    counter of failures exists only once something failed)."""
    rates = [(t, v) for t, v in requests if math.isfinite(v)]
    failed = {t: v for t, v in failures if math.isfinite(v)}
    total = sum(v for _, v in rates)
    errors = sum(failed.get(t, 0.0) for t, _ in rates)
    ratios = [(t, failed.get(t, 0.0) / v if v > 0 else math.nan) for t, v in rates]
    quantiles = [(t, v) for t, v in latency if math.isfinite(v)]
    return EdgeSignals(
        rate=total / len(rates) if rates else math.nan,
        error_ratio=errors / total if total > 0 else math.nan,
        latency=sum(v for _, v in quantiles) / len(quantiles) if quantiles else math.nan,
        points={"requests": rates, "errors": ratios, "latency": quantiles},
    )


@dataclass(frozen=True)
class Finding:
    """One signal that moved: its status, value now and in the baseline (NaN: none)."""

    signal: Signal
    status: ServiceStatus
    now: float
    before: float


def assess(now: EdgeSignals, before: EdgeSignals | None, rules: DependencyRules) -> list[Finding]:
    """What moved on one edge, worst first (empty: healthy)."""
    found: list[Finding] = []
    base_errors = before.error_ratio if before is not None else math.nan
    if math.isfinite(now.error_ratio):
        relative = not math.isfinite(base_errors) or now.error_ratio >= (
            rules.error_factor * base_errors
        )
        if relative and now.error_ratio >= rules.errors_failing_above:
            found.append(Finding("errors", ServiceStatus.FAILING, now.error_ratio, base_errors))
        elif relative and now.error_ratio >= rules.errors_degraded_above:
            found.append(Finding("errors", ServiceStatus.DEGRADED, now.error_ratio, base_errors))
    if before is None:
        return found
    if math.isfinite(now.latency) and math.isfinite(before.latency) and before.latency > 0:
        ratio = now.latency / before.latency
        if now.latency - before.latency >= rules.latency_floor_seconds:
            if ratio >= rules.latency_failing_factor:
                status = ServiceStatus.FAILING
            elif ratio >= rules.latency_factor:
                status = ServiceStatus.DEGRADED
            else:
                status = ServiceStatus.HEALTHY
            if status is not ServiceStatus.HEALTHY:
                found.append(Finding("latency", status, now.latency, before.latency))
    if math.isfinite(before.rate) and before.rate > 0:
        rate = now.rate if math.isfinite(now.rate) else 0.0
        if rate <= before.rate * (1 - rules.traffic_drop) or rate >= (
            before.rate * rules.traffic_surge
        ):
            found.append(Finding("requests", ServiceStatus.DEGRADED, rate, before.rate))
    found.sort(key=lambda item: -RANK[item.status])
    return found


@dataclass(frozen=True)
class DependencyHealth:
    """One call edge, `client` → `server`, from one source (tempo, istio): its signals
    now and in the baseline (None: the baseline window had no traffic), what moved, and
    the trend of its headline signal (the worst finding's, else the request rate) now and
    in the baseline, the baseline's times moved onto now's axis (`offset` seconds)."""

    client: str
    server: str
    source: str
    now: EdgeSignals
    baseline: EdgeSignals | None
    baseline_label: str
    findings: tuple[Finding, ...]
    offset: float = 0.0

    @property
    def status(self) -> ServiceStatus:
        return self.findings[0].status if self.findings else ServiceStatus.HEALTHY

    @property
    def headline(self) -> Signal:
        return self.findings[0].signal if self.findings else "requests"

    def trend(self) -> tuple[Points, Points]:
        """(now, baseline shifted onto now's axis) points of the headline signal."""
        signal = self.headline
        now = list(self.now.points.get(signal, []))
        if self.baseline is None:
            return now, []
        shifted = [(t + self.offset, v) for t, v in self.baseline.points.get(signal, [])]
        return now, shifted

    def record(self) -> dict[str, Any]:
        """JSON-ready, for a stored context snapshot."""
        now, before = self.trend()
        return {
            "client": self.client,
            "server": self.server,
            "source": self.source,
            "status": self.status.value,
            "headline": self.headline,
            "now": self.now.record(),
            "baseline": self.baseline.record() if self.baseline is not None else None,
            "baseline_label": self.baseline_label,
            "findings": [
                {
                    "signal": f.signal,
                    "status": f.status.value,
                    "now": _number(f.now),
                    "before": _number(f.before),
                }
                for f in self.findings
            ],
            "trend": [[round(t), v] for t, v in now[-60:]],
            "trend_baseline": [[round(t), v] for t, v in before[-60:]],
        }


def edges_of(
    shape: GraphShape,
    requests: Sequence[tuple[Mapping[str, str], Points]],
) -> list[tuple[str, str]]:
    """The (client, server) edges a requests answer names, in its order."""
    found: dict[tuple[str, str], None] = {}
    for labels, _points in requests:
        client, server = labels.get(shape.client), labels.get(shape.server)
        if client and server:
            found[(client, server)] = None
    return list(found)


def by_edge(
    shape: GraphShape, answer: Sequence[tuple[Mapping[str, str], Points]]
) -> dict[tuple[str, str], Points]:
    """Series of one answer keyed by (client, server)."""
    keyed: dict[tuple[str, str], Points] = {}
    for labels, points in answer:
        client, server = labels.get(shape.client), labels.get(shape.server)
        if client and server:
            keyed[(client, server)] = list(points)
    return keyed


def order(edges: Sequence[DependencyHealth]) -> list[DependencyHealth]:
    """Worst first, then the busiest, then by name; one entry per (client, server) — the
    source that saw more traffic when both did."""
    best: dict[tuple[str, str], DependencyHealth] = {}
    for edge in edges:
        key = (edge.client, edge.server)
        known = best.get(key)
        if known is None or _rate(edge) > _rate(known):
            best[key] = edge
    return sorted(best.values(), key=lambda e: (-RANK[e.status], -_rate(e), e.client, e.server))


def _rate(edge: DependencyHealth) -> float:
    return edge.now.rate if math.isfinite(edge.now.rate) else 0.0


def _number(value: float) -> float | None:
    return round(value, 6) if math.isfinite(value) else None
