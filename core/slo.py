"""Service level objectives: Sloth `prometheus/v1` specs, error budgets and burn rates.

A spec is the file teams already feed to Sloth (https://sloth.dev, `prometheus/v1`):

```yaml
version: "prometheus/v1"
service: "myservice"
slos:
  - name: "requests-availability"
    objective: 99.9                       # percent
    sli:
      events:
        error_query: sum(rate(http_requests_total{code=~"5.."}[{{.window}}]))
        total_query: sum(rate(http_requests_total[{{.window}}]))
```

`{{.window}}` is replaced by a PromQL duration (`5m`, `1h`, `28d`) before a query is sent.
`sli.raw.error_ratio_query` (a ready-made error ratio) works too.

Burn rate is the error ratio divided by the error budget (1 − objective): at 1× a service
uses exactly its budget over the SLO window. Alerting follows the multi-window,
multi-burn-rate rules of the Google SRE Workbook, ch. 5 "Alerting on SLOs"
(https://sre.google/workbook/alerting-on-slos/, table 5-8): a rule fires when the burn rate
is above its factor over both its long and its short window, the short one making the alert
stop soon after the burning does.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

WINDOW_PLACEHOLDER = re.compile(r"\{\{\s*\.window\s*\}\}")
SLOTH_VERSION = "prometheus/v1"


class SlothAlert(BaseModel):
    model_config = ConfigDict(extra="ignore")

    disable: bool = False
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)


class SlothAlerting(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    page_alert: SlothAlert = Field(default_factory=SlothAlert)
    ticket_alert: SlothAlert = Field(default_factory=SlothAlert)


class SlothEvents(BaseModel):
    model_config = ConfigDict(extra="ignore")

    error_query: str = Field(min_length=1)
    total_query: str = Field(min_length=1)


class SlothRaw(BaseModel):
    model_config = ConfigDict(extra="ignore")

    error_ratio_query: str = Field(min_length=1)


class SlothSli(BaseModel):
    model_config = ConfigDict(extra="ignore")

    events: SlothEvents | None = None
    raw: SlothRaw | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> Self:
        if (self.events is None) == (self.raw is None):
            raise ValueError("an SLI needs exactly one of `events` or `raw`")
        return self


class SlothSlo(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str = Field(min_length=1, max_length=128)
    objective: float = Field(gt=0, lt=100, description="percent of good events, e.g. 99.9")
    description: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    sli: SlothSli
    alerting: SlothAlerting = Field(default_factory=SlothAlerting)


class SlothSpec(BaseModel):
    """One Sloth `prometheus/v1` file. Unknown keys are ignored, as Sloth does."""

    model_config = ConfigDict(extra="ignore")

    version: str
    service: str = Field(min_length=1, max_length=255)
    labels: dict[str, str] = Field(default_factory=dict)
    slos: list[SlothSlo] = Field(min_length=1)

    @model_validator(mode="after")
    def _version(self) -> Self:
        if self.version != SLOTH_VERSION:
            raise ValueError(f"version must be {SLOTH_VERSION!r}, not {self.version!r}")
        return self

    @classmethod
    def parse(cls, data: Any) -> SlothSpec:
        """Validate a decoded YAML document (raises pydantic.ValidationError)."""
        return cls.model_validate(data)


@dataclass(frozen=True)
class Slo:
    """One objective of one service, ready to be queried."""

    service: str
    name: str
    objective: float  # a ratio: 0.999
    error_query: str | None
    total_query: str | None
    ratio_query: str | None
    labels: Mapping[str, str]
    alert_name: str
    alert_labels: Mapping[str, Mapping[str, str]]  # per rule severity: page, ticket
    annotations: Mapping[str, str]
    disabled: frozenset[str] = frozenset()
    description: str | None = None

    @property
    def key(self) -> str:
        return f"{self.service}/{self.name}"

    @property
    def budget(self) -> float:
        """The error budget as a ratio of events (0.001 for 99.9 %)."""
        return 1 - self.objective

    @property
    def counts_events(self) -> bool:
        return self.error_query is not None and self.total_query is not None

    def error_ratio_query(self, window: str) -> str:
        """PromQL for the error ratio over `window` (a PromQL duration)."""
        if self.ratio_query is not None:
            return render(self.ratio_query, window)
        assert self.error_query is not None and self.total_query is not None
        return f"({render(self.error_query, window)}) / ({render(self.total_query, window)})"

    def events_query(self, window: str) -> str | None:
        """PromQL for the events per second over `window`, when the SLI counts events."""
        return None if self.total_query is None else render(self.total_query, window)

    def bad_events_query(self, window: str) -> str | None:
        return None if self.error_query is None else render(self.error_query, window)


def render(query: str, window: str) -> str:
    """Replace Sloth's `{{.window}}` placeholder with a PromQL duration."""
    return WINDOW_PLACEHOLDER.sub(window, query)


def slos_of(spec: SlothSpec) -> list[Slo]:
    """The objectives of a spec, with Sloth's labels merged (spec, then SLO)."""
    found = []
    for item in spec.slos:
        alerting = item.alerting
        events, raw = item.sli.events, item.sli.raw
        disabled = frozenset(
            kind
            for kind, alert in (("page", alerting.page_alert), ("ticket", alerting.ticket_alert))
            if alert.disable
        )
        found.append(
            Slo(
                service=spec.service,
                name=item.name,
                objective=item.objective / 100,
                error_query=events.error_query if events else None,
                total_query=events.total_query if events else None,
                ratio_query=raw.error_ratio_query if raw else None,
                labels={**spec.labels, **item.labels},
                alert_name=alerting.name or "SLOErrorBudgetBurn",
                alert_labels={
                    "page": {**alerting.labels, **alerting.page_alert.labels},
                    "ticket": {**alerting.labels, **alerting.ticket_alert.labels},
                },
                annotations={
                    **alerting.annotations,
                    **alerting.page_alert.annotations,
                },
                disabled=disabled,
                description=item.description,
            )
        )
    return found


# --- burn rates ---


@dataclass(frozen=True)
class BurnRule:
    """Fire when the burn rate exceeds `factor` over both windows (SRE Workbook ch. 5)."""

    severity: Literal["page", "ticket"]
    long_window: timedelta
    short_window: timedelta
    factor: float

    @property
    def budget_share(self) -> float:
        """The share of a 30-day budget a burn at `factor` spends over the long window
        (the Workbook's derivation: 14.4 × 1 h / 720 h = 2 %)."""
        return self.factor * self.long_window / timedelta(days=30)

    def describe(self) -> str:
        return (
            f"{self.factor:g}× over {promql_duration(self.long_window)} "
            f"and {promql_duration(self.short_window)}"
        )


# The Workbook's recommended thresholds (table 5-8): 2 % of the budget in 1 h or 5 % in 6 h
# pages; 10 % in 1 d or in 3 d opens a ticket. Used unchanged for any SLO window.
WORKBOOK_RULES: tuple[BurnRule, ...] = (
    BurnRule("page", timedelta(hours=1), timedelta(minutes=5), 14.4),
    BurnRule("page", timedelta(hours=6), timedelta(minutes=30), 6.0),
    BurnRule("ticket", timedelta(days=1), timedelta(hours=2), 3.0),
    BurnRule("ticket", timedelta(days=3), timedelta(hours=6), 1.0),
)


def rule_windows(rules: Sequence[BurnRule]) -> list[timedelta]:
    """Every window the rules look at, shortest first."""
    return sorted({w for rule in rules for w in (rule.long_window, rule.short_window)})


def promql_duration(span: timedelta) -> str:
    """`5m`, `1h`, `28d`: the largest PromQL unit that divides the span."""
    seconds = int(span.total_seconds())
    if seconds <= 0:
        raise ValueError("a window must be positive")
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def burn_rate(error_ratio: float, objective: float) -> float:
    """Error ratio over the budget; 0 for no traffic (an undefined ratio), never negative.

    Raises ValueError for an objective outside (0, 1)."""
    if not 0 < objective < 1:
        raise ValueError("the objective is a ratio between 0 and 1")
    if not math.isfinite(error_ratio):
        return 0.0
    return max(error_ratio, 0.0) / (1 - objective)


@dataclass(frozen=True)
class TrafficGuard:
    """A burn counts only with enough traffic behind it: at least `min_events` events and
    `min_bad_events` bad ones over the rule's long window. A handful of errors on a quiet
    service reaches any burn rate, and should not page anyone."""

    min_events: float = 100
    min_bad_events: float = 10

    def passes(self, events: float | None, bad_events: float | None) -> bool:
        """Unknown counts (an SLI given as a ratio) pass: the guard cannot judge them."""
        if events is None or bad_events is None:
            return True
        if not (math.isfinite(events) and math.isfinite(bad_events)):
            return False
        return events >= self.min_events and bad_events >= self.min_bad_events


@dataclass(frozen=True)
class WindowReading:
    """What Prometheus said about one window: error ratio, and event counts when known."""

    error_ratio: float
    events: float | None = None
    bad_events: float | None = None


@dataclass(frozen=True)
class BurnVerdict:
    rule: BurnRule
    long_burn: float
    short_burn: float
    firing: bool
    guarded: bool  # the burn was high enough, but traffic too low to count


def evaluate_rules(
    readings: Mapping[timedelta, WindowReading],
    objective: float,
    *,
    rules: Sequence[BurnRule] = WORKBOOK_RULES,
    guard: TrafficGuard | None = None,
) -> list[BurnVerdict]:
    """Each rule's verdict from per-window readings; a rule whose windows were not read
    does not fire. `guard` (default `TrafficGuard()`) applies to the long window."""
    guard = guard or TrafficGuard()
    verdicts = []
    for rule in rules:
        long_reading = readings.get(rule.long_window)
        short_reading = readings.get(rule.short_window)
        if long_reading is None or short_reading is None:
            continue
        long_burn = burn_rate(long_reading.error_ratio, objective)
        short_burn = burn_rate(short_reading.error_ratio, objective)
        burning = long_burn > rule.factor and short_burn > rule.factor
        enough = guard.passes(long_reading.events, long_reading.bad_events)
        verdicts.append(BurnVerdict(rule, long_burn, short_burn, burning and enough, burning))
    return verdicts


# --- error budget ---


@dataclass(frozen=True)
class BudgetStatus:
    objective: float
    window: timedelta
    sli: float | None  # good ratio over the window; None without traffic
    budget_remaining: float | None  # 1 = untouched, 0 = spent, negative = overspent
    burn_rate: float | None  # recent burn rate the projection uses
    exhausted_at: datetime | None  # when the budget runs out at that burn rate

    @property
    def exhausted(self) -> bool:
        return self.budget_remaining is not None and self.budget_remaining <= 0


def budget_status(
    *,
    objective: float,
    window: timedelta,
    window_error_ratio: float,
    recent_burn_rate: float | None,
    now: datetime,
) -> BudgetStatus:
    """The budget left over the SLO window and, at the recent burn rate, when it is gone.

    Burning at rate B spends B / window of the budget per unit of time, so a remaining share
    R lasts R × window / B (none left: exhausted now; B = 0: never)."""
    if not math.isfinite(window_error_ratio):
        return BudgetStatus(objective, window, None, None, recent_burn_rate, None)
    error_ratio = max(window_error_ratio, 0.0)
    remaining = 1 - burn_rate(error_ratio, objective)
    exhausted_at = None
    if remaining <= 0:
        exhausted_at = now
    elif recent_burn_rate is not None and recent_burn_rate > 0:
        exhausted_at = now + window * (remaining / recent_burn_rate)
    return BudgetStatus(
        objective, window, 1 - error_ratio, remaining, recent_burn_rate, exhausted_at
    )


def budget_curve(
    bad: Sequence[float], total: Sequence[float], objective: float
) -> list[float | None]:
    """Budget remaining after each step of a window: 1 − cumulative bad events over the
    budget of the cumulative events (None until there is traffic). Ends at the same value
    as the budget over the whole window."""
    remaining: list[float | None] = []
    bad_sum = total_sum = 0.0
    for bad_step, total_step in zip(bad, total, strict=True):
        if math.isfinite(bad_step):
            bad_sum += max(bad_step, 0.0)
        if math.isfinite(total_step):
            total_sum += max(total_step, 0.0)
        if total_sum <= 0:
            remaining.append(None)
        else:
            remaining.append(1 - bad_sum / ((1 - objective) * total_sum))
    return remaining
