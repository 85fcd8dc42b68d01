"""SLOs read from a live Prometheus: error ratios per window, the error budget over the SLO
window, the burn-rate rules' verdicts and the budget's curve over the window.

Each SLI query is a Sloth query with `{{.window}}` filled in. Event SLIs are taken to count
events per second (`sum(rate(…[{{.window}}]))`, as Sloth's examples do), so a window's event
count is that rate times the window's length; the traffic guard needs those counts.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from core.slo import (
    WORKBOOK_RULES,
    BudgetStatus,
    BurnRule,
    BurnVerdict,
    Slo,
    TrafficGuard,
    WindowReading,
    budget_curve,
    budget_status,
    burn_rate,
    evaluate_rules,
    promql_duration,
    rule_windows,
)
from integrations.prometheus import PrometheusClient, PrometheusError, Sample, Series

PROJECTION_WINDOW = timedelta(days=1)  # the burn rate that projects the budget's end
CURVE_POINTS = 200


@dataclass(frozen=True)
class BudgetCurve:
    times: list[float]  # Unix seconds
    remaining: list[float | None]


@dataclass(frozen=True)
class SloReading:
    """Everything one SLO looks like now."""

    slo: Slo
    budget: BudgetStatus
    readings: dict[timedelta, WindowReading]
    verdicts: list[BurnVerdict]
    curve: BudgetCurve | None = None
    problems: list[str] = field(default_factory=list)

    def burn(self, window: timedelta) -> float | None:
        reading = self.readings.get(window)
        if reading is None or not math.isfinite(reading.error_ratio):
            return None
        return burn_rate(reading.error_ratio, self.slo.objective)


class SloReader:
    def __init__(
        self,
        client: PrometheusClient,
        slos: Sequence[Slo],
        *,
        window: timedelta = timedelta(days=28),
        rules: Sequence[BurnRule] = WORKBOOK_RULES,
        guard: TrafficGuard | None = None,
    ) -> None:
        self.client = client
        self.slos = list(slos)
        self.window = window
        self.rules = tuple(rules)
        self.guard = guard or TrafficGuard()

    def for_service(self, service: str) -> list[Slo]:
        return [slo for slo in self.slos if slo.service == service]

    @property
    def services(self) -> list[str]:
        return sorted({slo.service for slo in self.slos})

    async def read(self, slo: Slo, *, now: datetime, curve: bool = False) -> SloReading:
        """Query every window the rules and the budget need, concurrently. Raises
        PrometheusError when Prometheus answers none of them."""
        windows = sorted({*rule_windows(self.rules), PROJECTION_WINDOW, self.window})
        answers = await asyncio.gather(
            *(self._window(slo, window, now) for window in windows), return_exceptions=True
        )
        readings: dict[timedelta, WindowReading] = {}
        problems: list[str] = []
        failures: list[PrometheusError] = []
        for window, answer in zip(windows, answers, strict=True):
            if isinstance(answer, PrometheusError):
                failures.append(answer)
                problems.append(f"{promql_duration(window)}: {answer}")
            elif isinstance(answer, BaseException):
                raise answer
            else:
                readings[window] = answer
        if not readings:
            raise failures[0] if failures else PrometheusError("no answer")
        whole = readings.get(self.window, WindowReading(math.nan))
        recent = readings.get(PROJECTION_WINDOW)
        recent_burn = (
            burn_rate(recent.error_ratio, slo.objective)
            if recent is not None and math.isfinite(recent.error_ratio)
            else None
        )
        budget = budget_status(
            objective=slo.objective,
            window=self.window,
            window_error_ratio=whole.error_ratio,
            recent_burn_rate=recent_burn,
            now=now,
        )
        verdicts = evaluate_rules(readings, slo.objective, rules=self.rules, guard=self.guard)
        chart = None
        if curve:
            try:
                chart = await self._curve(slo, now)
            except PrometheusError as error:
                problems.append(f"budget curve: {error}")
        return SloReading(slo, budget, readings, verdicts, chart, problems)

    async def _window(self, slo: Slo, window: timedelta, now: datetime) -> WindowReading:
        duration = promql_duration(window)
        seconds = window.total_seconds()
        ratio = _value(await self.client.query(slo.error_ratio_query(duration), at=now))
        events_query = slo.events_query(duration)
        bad_query = slo.bad_events_query(duration)
        if events_query is None or bad_query is None:
            return WindowReading(ratio)
        events, bad = await asyncio.gather(
            self.client.query(events_query, at=now), self.client.query(bad_query, at=now)
        )
        total = _value(events)
        errors = _value(bad)
        if not math.isfinite(errors) and math.isfinite(total):
            errors = 0.0  # no bad series at all: no errors
        if not math.isfinite(ratio) and math.isfinite(total) and total > 0:
            ratio = errors / total
        return WindowReading(ratio, total * seconds, errors * seconds)

    async def _curve(self, slo: Slo, now: datetime) -> BudgetCurve:
        """Budget remaining across the SLO window, from per-step event counts."""
        step = max(self.window / CURVE_POINTS, timedelta(minutes=5))
        step = timedelta(minutes=math.ceil(step.total_seconds() / 60))
        duration = promql_duration(step)
        start = now - self.window + step
        events_query = slo.events_query(duration)
        bad_query = slo.bad_events_query(duration)
        seconds = step.total_seconds()
        if events_query is None or bad_query is None:
            series = await self.client.query_range(
                slo.error_ratio_query(duration), start=start, end=now, step=seconds
            )
            times, ratios = _single(series)
            return BudgetCurve(times, budget_curve(ratios, [1.0] * len(ratios), slo.objective))
        totals, bads = await asyncio.gather(
            self.client.query_range(events_query, start=start, end=now, step=seconds),
            self.client.query_range(bad_query, start=start, end=now, step=seconds),
        )
        times, total_rates = _single(totals)
        bad_by_time = dict(zip(*_single(bads), strict=True))
        bad_rates = [bad_by_time.get(moment, 0.0) for moment in times]
        return BudgetCurve(
            times,
            budget_curve(
                [rate * seconds for rate in bad_rates],
                [rate * seconds for rate in total_rates],
                slo.objective,
            ),
        )


def _value(samples: list[Sample]) -> float:
    """The answer of a query meant to give one number: the sum of its series (NaN for none)."""
    values = [sample.value for sample in samples if math.isfinite(sample.value)]
    if not samples:
        return math.nan
    return sum(values) if values else math.nan


def _single(series: Sequence[Series]) -> tuple[list[float], list[float]]:
    """Sum the series of a range answer point by point."""
    summed: dict[float, float] = {}
    for item in series:
        for moment, value in zip(item.times, item.values, strict=True):
            if math.isfinite(value):
                summed[moment] = summed.get(moment, 0.0) + value
    times = sorted(summed)
    return times, [summed[moment] for moment in times]
