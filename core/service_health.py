"""Service health from metrics: the `health:` section of `LOOKOUT_CONFIG`, and what it says.

Each health query is a PromQL expression that answers one series per service (named by the
`service` label, or the label the query or the section names), where a higher value is worse,
with two thresholds:

```yaml
health:
  label: service              # the label that names the service in every answer
  timeout_seconds: 2          # a slow Prometheus must not slow chat down
  cache_seconds: 10           # answers are reused this long
  queries:                    # these two are the defaults; a list here replaces them
    - name: error ratio
      expr: |
        sum by (service) (rate(http_requests_total{code=~"5.."}[5m])
                          or rate(http_requests_total{status=~"5.."}[5m]))
        / sum by (service) (rate(http_requests_total[5m]))
      unit: percent
      degraded_above: 0.01
      failing_above: 0.05
    - name: targets down
      expr: 1 - avg by (service) (up)
      unit: percent
      degraded_above: 0
      failing_above: 0.5
```

A value above `failing_above` is failing, above `degraded_above` degraded, else healthy;
values that are not numbers (a ratio with no traffic) say nothing. A service's status is the
worse of what its open alerts say and what the queries say (`combine`), and `notes` tells a
reader where a status came from: `error ratio 4.2 %`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from core.blast_radius import ServiceStatus

RANK = {ServiceStatus.HEALTHY: 0, ServiceStatus.DEGRADED: 1, ServiceStatus.FAILING: 2}

ERROR_RATIO = (
    'sum by (service) (rate(http_requests_total{code=~"5.."}[5m])'
    ' or rate(http_requests_total{status=~"5.."}[5m]))'
    " / sum by (service) (rate(http_requests_total[5m]))"
)
TARGETS_DOWN = "1 - avg by (service) (up)"


class HealthQuery(BaseModel):
    """One PromQL expression answering a value per service, higher is worse."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=64, description="how chat names the reading")
    expr: str = Field(min_length=1, description="instant PromQL, one series per service")
    label: str | None = Field(
        default=None, min_length=1, description="the service label (default: the section's)"
    )
    unit: Literal["percent", "number"] = Field(
        default="number", description="percent: the value is a ratio, shown as 4.2 %"
    )
    degraded_above: float
    failing_above: float

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.failing_above < self.degraded_above:
            raise ValueError(
                f"health query {self.name!r}: failing_above ({self.failing_above}) is below "
                f"degraded_above ({self.degraded_above})"
            )
        return self

    def status(self, value: float) -> ServiceStatus:
        if value > self.failing_above:
            return ServiceStatus.FAILING
        if value > self.degraded_above:
            return ServiceStatus.DEGRADED
        return ServiceStatus.HEALTHY

    def describe(self, value: float) -> str:
        """`error ratio 4.2 %`, `queue depth 1,200`."""
        if self.unit == "percent":
            return f"{self.name} {value * 100:.1f} %"
        shown = f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"
        return f"{self.name} {shown}"


def default_queries() -> list[HealthQuery]:
    return [
        HealthQuery(
            name="error ratio",
            expr=ERROR_RATIO,
            unit="percent",
            degraded_above=0.01,
            failing_above=0.05,
        ),
        HealthQuery(
            name="targets down",
            expr=TARGETS_DOWN,
            unit="percent",
            degraded_above=0,
            failing_above=0.5,
        ),
    ]


class HealthRules(BaseModel):
    """The `health:` section; every field optional. Used only when PROMETHEUS_URL is set."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(default=True, description="ask Prometheus for service health")
    label: str = Field(default="service", min_length=1, description="the service label")
    timeout_seconds: float = Field(default=2, gt=0, le=30)
    cache_seconds: float = Field(default=10, ge=0, le=300)
    queries: list[HealthQuery] = Field(default_factory=default_queries)

    @model_validator(mode="after")
    def _unique_names(self) -> Self:
        names = [query.name for query in self.queries]
        if len(names) != len(set(names)):
            raise ValueError("health query names must be unique")
        return self

    @property
    def active(self) -> bool:
        return self.enabled and bool(self.queries)


@dataclass(frozen=True)
class HealthReading:
    """What one query said of one service."""

    service: str
    query: str
    value: float
    status: ServiceStatus
    text: str


def assess(
    query: HealthQuery, series: Iterable[tuple[Mapping[str, str], float]], *, label: str
) -> dict[str, HealthReading]:
    """Each service's reading from one query's answer: (labels, value) per series. Series
    without the service label, and values that are not finite numbers, are left out; when a
    service has several series, the worst value counts."""
    name_label = query.label or label
    readings: dict[str, HealthReading] = {}
    for labels, value in series:
        service = labels.get(name_label)
        if not service or not math.isfinite(value):
            continue
        known = readings.get(service)
        if known is not None and known.value >= value:
            continue
        readings[service] = HealthReading(
            service, query.name, value, query.status(value), query.describe(value)
        )
    return readings


def worst(readings: Iterable[Mapping[str, HealthReading]]) -> dict[str, HealthReading]:
    """One reading per service over several queries: the worst status; on a tie, the query
    listed first (its reading is the one a reader is told)."""
    chosen: dict[str, HealthReading] = {}
    for per_service in readings:
        for service, reading in per_service.items():
            known = chosen.get(service)
            if known is None or RANK[reading.status] > RANK[known.status]:
                chosen[service] = reading
    return chosen


def combine(
    alerts: Mapping[str, ServiceStatus], readings: Mapping[str, HealthReading]
) -> dict[str, ServiceStatus]:
    """The worse of the alerts' and the metrics' status, per service (healthy ones left out)."""
    combined = {name: status for name, status in alerts.items() if RANK[status]}
    for service, reading in readings.items():
        if RANK[reading.status] > RANK[combined.get(service, ServiceStatus.HEALTHY)]:
            combined[service] = reading.status
    return combined


def notes(
    alerts: Mapping[str, ServiceStatus], readings: Mapping[str, HealthReading]
) -> dict[str, str]:
    """Where a status that is not healthy came from, when metrics had a say in it: the
    reading (`error ratio 4.2 %`), or `alerts; error ratio 12.0 %` when both agree. A status
    that open alerts alone decide has no note: that is the default source."""
    found: dict[str, str] = {}
    for service, reading in readings.items():
        if not RANK[reading.status]:
            continue
        alert_status = alerts.get(service, ServiceStatus.HEALTHY)
        if RANK[reading.status] > RANK[alert_status]:
            found[service] = reading.text
        elif reading.status is alert_status:
            found[service] = f"alerts; {reading.text}"
    return found
