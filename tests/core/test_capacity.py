"""Capacity forecasts on series whose crossing time is known."""

from __future__ import annotations

import math

import numpy as np
import pytest

from core.capacity import (
    NotEnoughDataError,
    forecast,
    last_level_shift,
    seasonal_period,
    time_to_threshold,
)

HOUR = 3600.0
DAY = 86400.0


def hourly(days: float) -> np.ndarray:
    return np.arange(0, days * DAY, HOUR)


def test_linear_growth_crossing_within_ten_percent() -> None:
    rng = np.random.default_rng(7)
    t = hourly(14)
    usage = 40 + 2 * t / DAY + rng.normal(0, 0.5, len(t))  # 2 points a day from 40
    result = forecast(t, usage, horizon=30 * DAY)
    crossing = time_to_threshold(result, 90)
    truth = 25 * DAY  # 40 + 2 d = 90
    assert crossing.at is not None
    assert abs(crossing.at - truth) / (truth - t[-1]) < 0.1
    assert crossing.earliest is not None and crossing.earliest <= crossing.at
    assert crossing.latest is None or crossing.latest >= crossing.at


def test_daily_seasonality_is_found_and_crossing_happens_at_a_peak() -> None:
    rng = np.random.default_rng(3)
    t = hourly(21)
    shape = 10 * np.sin(2 * math.pi * t / DAY)
    usage = 50 + 1 * t / DAY + shape + rng.normal(0, 0.5, len(t))
    assert seasonal_period(usage, HOUR) == 24
    result = forecast(t, usage, horizon=30 * DAY)
    assert "season 24" in result.method
    crossing = time_to_threshold(result, 85)
    # Truth: first time 71 + d + 10 sin(...) reaches 85 — a peak around day 25.
    future = np.arange(t[-1] + HOUR, t[-1] + 30 * DAY, HOUR)
    truth = future[np.argmax(50 + future / DAY + 10 * np.sin(2 * math.pi * future / DAY) >= 85)]
    assert crossing.at is not None
    assert abs(crossing.at - truth) / (truth - t[-1]) < 0.15


def test_a_cleanup_step_restarts_the_trend() -> None:
    t = hourly(14)
    usage = 60 + 3 * t / DAY
    usage[t >= 10 * DAY] -= 50  # cleaned up on day 10, growing again at 3 a day
    assert last_level_shift(usage) == int(10 * DAY / HOUR)
    result = forecast(t, usage, horizon=30 * DAY)
    assert result.fitted_from == pytest.approx(10 * DAY)
    crossing = time_to_threshold(result, 90)
    truth = (90 - 10) / 3 * DAY  # 60 - 50 + 3 d = 90 → day 26.7
    assert crossing.at is not None and abs(crossing.at - truth) / (truth - t[-1]) < 0.1


def test_short_history_uses_a_robust_line_that_ignores_a_spike() -> None:
    t = np.arange(0, 12) * DAY
    usage = 10.0 + t / DAY
    usage[5] = 500  # one wild sample
    result = forecast(t, usage, horizon=10 * DAY)
    assert result.method.startswith("robust linear")
    # The line reaches 25 on day 15; a level between two samples, so that rounding in the
    # fit (which differs between numerical library versions) cannot move the crossing.
    crossing = time_to_threshold(result, 24.5)
    assert crossing.at == pytest.approx(15 * DAY, rel=0.02)


def test_growth_what_if_brings_the_crossing_closer() -> None:
    t = hourly(14)
    usage = 40 + 1 * t / DAY
    plain = time_to_threshold(forecast(t, usage, horizon=60 * DAY), 80).at
    faster = time_to_threshold(forecast(t, usage, horizon=60 * DAY, growth_per_day=0.02), 80).at
    assert plain is not None and faster is not None and faster < plain


def test_flat_usage_never_crosses() -> None:
    t = hourly(7)
    result = forecast(t, np.full(len(t), 30.0) + np.sin(t), horizon=30 * DAY)
    assert time_to_threshold(result, 90).at is None


def test_too_little_data() -> None:
    with pytest.raises(NotEnoughDataError):
        forecast([0, 1, 2], [1, 2, math.nan], horizon=DAY)
