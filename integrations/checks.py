"""Prometheus checks: each configured query's recent history judged by the baseline detector
(`core.anomaly`), and what deviates now."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from core.anomaly import BaselineDetector, Reading
from core.check_rules import PromCheck
from integrations.prometheus import PrometheusClient


@dataclass(frozen=True)
class Deviation:
    """One series of a check that deviates from its baseline now."""

    check: PromCheck
    labels: dict[str, str]  # the series' own labels
    reading: Reading  # the sample that raised it


class CheckRunner:
    def __init__(self, client: PrometheusClient) -> None:
        self.client = client

    async def run(self, check: PromCheck, *, now: datetime) -> list[Deviation]:
        """The series deviating within the last `every_minutes`, judged in the direction the
        check asks for. Raises PrometheusError when Prometheus cannot answer."""
        step = check.step_minutes * 60
        series = await self.client.query_range(
            check.query,
            start=now - timedelta(days=check.lookback_days),
            end=now,
            step=step,
        )
        recent_from = now.timestamp() - max(check.every_minutes * 60, step)
        found = []
        for item in series:
            detector = BaselineDetector()
            raised: Reading | None = None
            for moment, value in zip(item.times, item.values, strict=True):
                reading = detector.update(moment, value)
                if moment > recent_from and _counts(check, reading, detector.settings.threshold):
                    raised = reading
            if raised is not None:
                labels = {k: v for k, v in item.labels.items() if k != "__name__"}
                found.append(Deviation(check, labels, raised))
        return found


def _counts(check: PromCheck, reading: Reading, threshold: float) -> bool:
    """An anomalous sample on the side the check watches (`alarm` alone would miss one the
    refractory period hides, so the score decides)."""
    if reading.expected is None or reading.score < threshold:
        return False
    if not math.isfinite(reading.value):
        return False
    above = reading.value > reading.expected
    return check.direction == "both" or (check.direction == "above") == above
