"""Capacity read from a live Prometheus: a resource's usage history and limit, its forecast
(`core.capacity`), when it reaches each level, and whether it is over-provisioned."""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from core.capacity import Crossing, Forecast, NotEnoughDataError, forecast, time_to_threshold
from core.capacity_rules import CapacityResource, CapacityRules
from integrations.prometheus import PrometheusClient, PrometheusError, Series


@dataclass(frozen=True)
class CapacityReading:
    resource: CapacityResource
    times: list[float]
    usage: list[float]
    limit: float
    request: float
    forecast: Forecast | None
    crossings: list[Crossing]  # one per level, in the series' unit
    status: str  # critical, warning, healthy, unknown
    problem: str | None = None

    @property
    def current(self) -> float | None:
        return self.usage[-1] if self.usage else None

    @property
    def share(self) -> float | None:
        current = self.current
        return None if current is None or self.limit <= 0 else current / self.limit

    @property
    def p95_share_of_request(self) -> float | None:
        if not self.usage or self.request <= 0:
            return None
        return float(np.percentile(self.usage, 95)) / self.request

    def crossing(self, share: float) -> Crossing | None:
        for item in self.crossings:
            if math.isclose(item.level, share * self.limit):
                return item
        return None


class CapacityReader:
    def __init__(self, client: PrometheusClient, rules: CapacityRules) -> None:
        self.client = client
        self.rules = rules

    @property
    def resources(self) -> list[CapacityResource]:
        return list(self.rules.resources)

    async def read(
        self, resource: CapacityResource, *, now: datetime, growth_per_day: float = 0.0
    ) -> CapacityReading:
        """Raises PrometheusError when Prometheus cannot answer the usage or the limit."""
        rules = self.rules
        step = rules.step_minutes * 60
        history, limit, request = await asyncio.gather(
            self.client.query_range(
                resource.usage,
                start=now - timedelta(days=rules.lookback_days),
                end=now,
                step=step,
            ),
            self._number(resource.limit, now),
            self._number(resource.request, now)
            if resource.request is not None
            else asyncio.sleep(0, result=math.nan),
        )
        times, usage = _summed(history)
        if not math.isfinite(request):
            request = limit
        if not usage or not math.isfinite(limit) or limit <= 0:
            problem = "no usage samples" if not usage else "the limit query gave no positive number"
            return CapacityReading(
                resource, times, usage, limit, request, None, [], "unknown", problem
            )
        levels = [share * limit for share in rules.levels]
        try:
            result = forecast(
                times, usage, horizon=rules.horizon_days * 86400, growth_per_day=growth_per_day
            )
        except NotEnoughDataError as error:
            return CapacityReading(
                resource, times, usage, limit, request, None, [], "unknown", str(error)
            )
        crossings = [_crossing(result, level, times[-1], usage[-1]) for level in levels]
        status = _status(
            _crossing(result, rules.alert_level * limit, times[-1], usage[-1]),
            now=now.timestamp(),
            rules=rules,
        )
        return CapacityReading(resource, times, usage, limit, request, result, crossings, status)

    async def _number(self, value: str | float, now: datetime) -> float:
        if isinstance(value, int | float):
            return float(value)
        samples = await self.client.query(value, at=now)
        values = [sample.value for sample in samples if math.isfinite(sample.value)]
        if not values:
            raise PrometheusError(f"`{value}` gave no number")
        return sum(values)


def _crossing(result: Forecast, level: float, last_time: float, last_value: float) -> Crossing:
    if last_value >= level:
        return Crossing(level, last_time, last_time, last_time)
    return time_to_threshold(result, level)


def _status(crossing: Crossing, *, now: float, rules: CapacityRules) -> str:
    if crossing.at is None:
        return "healthy"
    days = (crossing.at - now) / 86400
    if days < rules.critical_days:
        return "critical"
    if days < rules.warning_days:
        return "warning"
    return "healthy"


def _summed(series: list[Series]) -> tuple[list[float], list[float]]:
    summed: dict[float, float] = {}
    for item in series:
        for moment, value in zip(item.times, item.values, strict=True):
            if math.isfinite(value):
                summed[moment] = summed.get(moment, 0.0) + value
    times = sorted(summed)
    return times, [summed[moment] for moment in times]
