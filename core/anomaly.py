"""A streaming anomaly detector against a learned, time-of-day and weekday aware baseline.

Each sample is compared with three expectations learned from the series so far:

* **level** — the median of the last few samples (what a flat series does next);
* **daily** — the median of the samples at the same time of day on recent days;
* **weekly** — the median at the same time of the same weekday in recent weeks.

Whichever has predicted this series best lately (the smallest running mean absolute error)
is the baseline, so a series with a strong daily rhythm is judged against its rhythm and a
flat one against its level, without being told which it is. The residual is scaled by the
running mean absolute error of that baseline, and the scaled residuals become an anomaly
likelihood the way Numenta's detector does (Ahmad, Lavin, Purdy & Agha, "Unsupervised
real-time anomaly detection for streaming data", Neurocomputing 262, 2017, §4.2): the mean
of the last few scaled residuals is compared with the distribution of such means over a
long history, and the Gaussian tail probability of the difference gives a score in [0, 1].
A score near 1 is rare for this series at this time of day and weekday.

A second, independent signal catches values unlike any before, which the likelihood can
miss when the series has been noisy lately (its residuals are scaled by the recent error): a
value beyond the range seen so far by more than `range_tolerance` of that range scores 1.
This is the "spatial anomaly" of the detector Numenta entered in its own benchmark (NAB
v1.1, `nab/detectors/numenta/numenta_detector.py`, MIT licence), with its tolerance of 5 %
of the range.

An alarm fires when either signal does (the score reaches `threshold`), then stays quiet for
`refractory_seconds`, so one incident raises one signal. Times are Unix seconds; the step is
learned from the first samples. Pure: no I/O, and `update` is deterministic.
"""

from __future__ import annotations

import math
import statistics
from collections import deque
from dataclasses import dataclass

DAY = 86400.0
WEEK = 7 * DAY


@dataclass(frozen=True)
class DetectorSettings:
    """How the detector learns. Counts are in samples unless named otherwise."""

    level_window: int = 6  # samples whose median is the level
    seasons_kept: int = 4  # days (or weeks) remembered per slot
    error_memory: int = 288  # samples over which each baseline's error is averaged
    short_window: int = 3  # scaled residuals averaged for the likelihood
    long_window: int = 2016  # history of those averages the likelihood compares with
    warmup: int = 150  # no score before this many samples
    threshold: float = 0.99  # likelihood at which an alarm fires
    refractory_seconds: float = 6 * 3600.0  # quiet time after an alarm
    range_tolerance: float = 0.05  # share of the seen range a value may exceed it by


@dataclass(frozen=True)
class Reading:
    """The detector's view of one sample."""

    timestamp: float
    value: float
    expected: float | None
    baseline: str | None  # which baseline judged it: level, daily, weekly
    score: float  # anomaly likelihood in [0, 1]; 1 for a value beyond the seen range
    alarm: bool
    beyond_range: bool = False  # outside the range seen so far by more than the tolerance


class _RunningError:
    """Mean absolute error of one predictor over the last `size` samples."""

    def __init__(self, size: int) -> None:
        self._errors: deque[float] = deque(maxlen=size)
        self._sum = 0.0

    def add(self, error: float) -> None:
        if len(self._errors) == self._errors.maxlen:
            self._sum -= self._errors[0]
        self._errors.append(error)
        self._sum += error

    @property
    def count(self) -> int:
        return len(self._errors)

    @property
    def mean(self) -> float:
        return self._sum / len(self._errors) if self._errors else math.inf


class BaselineDetector:
    """Judges one series sample by sample (`update`, in time order): a `Reading` per sample
    with the expected value, the anomaly score in [0, 1] and whether an alarm fires."""

    def __init__(self, settings: DetectorSettings | None = None) -> None:
        self.settings = settings or DetectorSettings()
        s = self.settings
        self._recent: deque[float] = deque(maxlen=s.level_window)
        self._step: float | None = None
        self._last_time: float | None = None
        self._first_time: float | None = None
        self._daily: dict[int, deque[float]] = {}
        self._weekly: dict[int, deque[float]] = {}
        self._errors = {
            "level": _RunningError(s.error_memory),
            "daily": _RunningError(s.error_memory),
            "weekly": _RunningError(s.error_memory),
        }
        self._scaled: deque[float] = deque(maxlen=s.short_window)
        self._averages: deque[float] = deque(maxlen=s.long_window)
        self._averages_sum = 0.0
        self._averages_squares = 0.0
        self._count = 0
        self._quiet_until = -math.inf
        self._lowest = math.inf
        self._highest = -math.inf

    def update(self, timestamp: float, value: float) -> Reading:
        """Take one sample (in time order) and judge it. A NaN value is skipped (score 0)."""
        if not math.isfinite(value):
            return Reading(timestamp, value, None, None, 0.0, False)
        self._learn_step(timestamp)
        predictions = self._predictions(timestamp)
        chosen = self._choose(predictions)
        for name, predicted in predictions.items():
            self._errors[name].add(abs(value - predicted))
        score = 0.0
        expected = predictions.get(chosen) if chosen else None
        if expected is not None and chosen is not None:
            scale = max(self._errors[chosen].mean, self._floor(expected))
            self._scaled.append(abs(value - expected) / scale)
            score = self._likelihood()
        beyond = self._beyond_range(value)
        if beyond:
            score = 1.0
        self._remember(timestamp, value)
        self._count += 1
        alarm = False
        if self._count < self.settings.warmup:
            score = 0.0
            beyond = False
        elif score >= self.settings.threshold and timestamp >= self._quiet_until:
            alarm = True
            self._quiet_until = timestamp + self.settings.refractory_seconds
        return Reading(timestamp, value, expected, chosen, score, alarm, beyond)

    # --- baselines ---

    def _learn_step(self, timestamp: float) -> None:
        if self._first_time is None:
            self._first_time = timestamp
        if self._last_time is not None and timestamp > self._last_time:
            gap = timestamp - self._last_time
            self._step = gap if self._step is None else min(self._step, gap)
        self._last_time = timestamp

    def _slot(self, timestamp: float, period: float) -> int | None:
        if self._step is None:
            return None
        return int((timestamp % period) // self._step)

    def _predictions(self, timestamp: float) -> dict[str, float]:
        found: dict[str, float] = {}
        if self._recent:
            found["level"] = statistics.median(self._recent)
        for name, period, slots in (
            ("daily", DAY, self._daily),
            ("weekly", WEEK, self._weekly),
        ):
            slot = self._slot(timestamp, period)
            history = slots.get(slot) if slot is not None else None
            if history and len(history) >= 2:
                found[name] = statistics.median(history)
        return found

    def _choose(self, predictions: dict[str, float]) -> str | None:
        """The baseline with the smallest recent error among those that have a record."""
        if not predictions:
            return None
        minimum = self.settings.error_memory // 4
        candidates = [
            name for name in predictions if name == "level" or self._errors[name].count >= minimum
        ]
        return min(candidates, key=lambda name: self._errors[name].mean)

    def _beyond_range(self, value: float) -> bool:
        """Whether `value` leaves the range seen so far by more than the tolerance (a flat
        history has no range to leave)."""
        if not self._highest > self._lowest:
            return False
        margin = (self._highest - self._lowest) * self.settings.range_tolerance
        return value > self._highest + margin or value < self._lowest - margin

    def _remember(self, timestamp: float, value: float) -> None:
        self._lowest = min(self._lowest, value)
        self._highest = max(self._highest, value)
        self._recent.append(value)
        for period, slots in ((DAY, self._daily), (WEEK, self._weekly)):
            slot = self._slot(timestamp, period)
            if slot is not None:
                slots.setdefault(slot, deque(maxlen=self.settings.seasons_kept)).append(value)

    @staticmethod
    def _floor(expected: float) -> float:
        """A scale below which residuals are noise of the measurement, not of the system."""
        return max(abs(expected) * 1e-3, 1e-9)

    # --- likelihood ---

    def _likelihood(self) -> float:
        # Averages of absolute residuals are skewed to the right; their logarithm is close to
        # normal, so the tail probability is taken on the log scale.
        average = math.log(sum(self._scaled) / len(self._scaled) + 1e-3)
        n = len(self._averages)
        score = 0.0
        if n >= 2:
            mean = self._averages_sum / n
            variance = max(self._averages_squares / n - mean * mean, 0.0)
            deviation = max(math.sqrt(variance), 1e-6)
            score = 1 - 0.5 * math.erfc((average - mean) / (deviation * math.sqrt(2)))
        if n == self._averages.maxlen:
            oldest = self._averages[0]
            self._averages_sum -= oldest
            self._averages_squares -= oldest * oldest
        self._averages.append(average)
        self._averages_sum += average
        self._averages_squares += average * average
        return score
