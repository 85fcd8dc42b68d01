"""The baseline detector: a daily rhythm is normal, a break from it is not."""

from __future__ import annotations

import math
import random

from core.anomaly import BaselineDetector

STEP = 300.0
DAY = 86400.0


def daily(t: float, rng: random.Random) -> float:
    hour = (t % DAY) / 3600
    return 100 + 80 * math.exp(-((hour - 14) ** 2) / 8) + rng.gauss(0, 3)


def run(values: list[tuple[float, float]]) -> list[tuple[float, bool, float]]:
    detector = BaselineDetector()
    found = []
    for t, v in values:
        reading = detector.update(t, v)
        found.append((t, reading.alarm, reading.score))
    return found


def test_the_daily_peak_is_not_an_anomaly_but_a_night_spike_is() -> None:
    rng = random.Random(1)
    times = [i * STEP for i in range(int(10 * DAY / STEP))]
    series = [(t, daily(t, rng)) for t in times]
    spike_at = 9 * DAY + 3 * 3600  # 03:00 on day 10, when it is usually quiet
    series = [(t, v + 150 if spike_at <= t < spike_at + 3 * STEP else v) for t, v in series]
    results = run(series)
    alarms = [t for t, alarm, _ in results if alarm and t > 3 * DAY]
    assert alarms and all(spike_at <= t <= spike_at + 3 * STEP for t in alarms)


def test_the_seasonal_baseline_is_chosen_for_a_rhythmic_series() -> None:
    rng = random.Random(2)
    detector = BaselineDetector()
    reading = None
    for i in range(int(8 * DAY / STEP)):
        reading = detector.update(i * STEP, daily(i * STEP, rng))
    assert reading is not None and reading.baseline in ("daily", "weekly", "level")
    assert reading.expected is not None and abs(reading.expected - reading.value) < 40


def test_a_level_shift_alarms_at_once_and_noise_rarely() -> None:
    rng = random.Random(3)
    series = [(i * STEP, 50 + rng.gauss(0, 1)) for i in range(2000)]
    series += [(i * STEP, 90 + rng.gauss(0, 1)) for i in range(2000, 2100)]
    alarms = [t for t, alarm, _ in run(series) if alarm]
    assert [t for t in alarms if t >= 2000 * STEP] == [2000 * STEP]
    # Gaussian noise: the likelihood threshold (0.99) and the 6-hour quiet time allow about
    # one alarm per thousand samples, no more.
    assert len([t for t in alarms if t < 2000 * STEP]) <= 2


def test_nan_is_skipped() -> None:
    detector = BaselineDetector()
    assert detector.update(0, math.nan).score == 0.0


def test_a_value_beyond_the_range_seen_alarms_and_one_inside_it_does_not() -> None:
    # A noisy series whose likelihood has learned wide residuals: 0-100 at random.
    rng = random.Random(4)
    detector = BaselineDetector()
    for i in range(2000):
        detector.update(i * STEP, rng.uniform(0, 100))
    quiet = detector.update(2000 * STEP, 103.0)  # within 5 % of the range past its top
    assert not quiet.beyond_range
    beyond = detector.update(2001 * STEP, 110.0)
    assert beyond.beyond_range and beyond.alarm and beyond.score == 1.0


def test_nothing_is_beyond_the_range_during_warmup() -> None:
    detector = BaselineDetector()
    readings = [detector.update(i * STEP, float(i)) for i in range(100)]
    assert not any(reading.beyond_range or reading.alarm for reading in readings)
