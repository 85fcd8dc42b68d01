"""Capacity forecasting: trend and seasonality from usage history, prediction intervals, and
the time until usage crosses a share of its limit.

`forecast` picks the model by how much history there is:

* at least two full seasons (daily, or weekly when three weeks are there and the weekly
  pattern is stronger) and `MIN_ETS_POINTS` points: an ETS model with additive error, trend
  and season (Hyndman & Athanasopoulos, *Forecasting: Principles and Practice*, 3rd ed.,
  ch. 8; statsmodels' `ETSModel`), whose prediction intervals are analytic;
* otherwise, with no seasonality to speak of, Holt's linear trend (ETS A,A,N);
* a robust linear trend (Huber M-estimation, statsmodels `RLM`) plus the seasonal profile,
  with intervals from the robust scale — the only model for short histories, and the one
  chosen over ETS when it forecasts the history's last fifth better (noisy series).

A step change (a disk cleaned up, a pool resized) makes the history before it useless for
the trend, so the fit starts after the last level shift (`last_level_shift`).
`time_to_threshold` reads the first crossing of the mean and of both interval bounds.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

MIN_POINTS = 6
MIN_ETS_POINTS = 48
DAY = 86400.0
WEEK = 7 * DAY
SEASONAL_STRENGTH = 0.3  # autocorrelation at the season's lag that counts as seasonal
Z_90 = 1.6448536269514722  # two-sided 90 % interval


Values = Sequence[float] | NDArray[Any]


class NotEnoughDataError(ValueError):
    """Fewer points than any model can use; the message says how many are needed."""


@dataclass(frozen=True)
class Forecast:
    """Predicted usage at `times` (Unix seconds) with a 90 % prediction interval."""

    method: str
    times: NDArray[np.float64]
    mean: NDArray[np.float64]
    lower: NDArray[np.float64]
    upper: NDArray[np.float64]
    fitted_from: float  # the first time the model was fitted on (after a level shift)


@dataclass(frozen=True)
class Crossing:
    """When usage reaches `level` (a value in the series' unit): expected (`at`), at the
    earliest and at the latest the interval allows; None when not within the horizon."""

    level: float
    at: float | None
    earliest: float | None
    latest: float | None


def forecast(
    times: Values,
    values: Values,
    *,
    horizon: float,
    growth_per_day: float = 0.0,
) -> Forecast:
    """Forecast `horizon` seconds past the last sample.

    `times` are Unix seconds at a regular step (gaps are filled by interpolation); NaN values
    are dropped. `growth_per_day` (0.02 for 2 %/d) compounds on top of the model, a what-if
    for demand growing faster than the history shows. Raises `NotEnoughDataError` below
    `MIN_POINTS` usable samples."""
    t, y = _clean(times, values)
    if len(t) < MIN_POINTS:
        raise NotEnoughDataError(f"need at least {MIN_POINTS} samples, have {len(t)}")
    step = float(np.median(np.diff(t)))
    start = last_level_shift(y)
    if len(y) - start >= MIN_POINTS:
        t, y = t[start:], y[start:]
    grid = np.arange(t[0], t[-1] + step / 2, step)
    y = np.interp(grid, t, y)
    steps = max(1, math.ceil(horizon / step))
    future = grid[-1] + step * np.arange(1, steps + 1)
    season = seasonal_period(y, step)
    method, mean, spread = _fit(y, season, steps)
    if growth_per_day:
        factor = (1 + growth_per_day) ** ((future - grid[-1]) / DAY)
        mean, spread = mean * factor, spread * factor
    return Forecast(method, future, mean, mean - spread, mean + spread, float(grid[0]))


def time_to_threshold(result: Forecast, level: float) -> Crossing:
    """The first crossing of `level` by the mean, the upper bound (earliest) and the lower
    bound (latest) within the forecast."""
    return Crossing(
        level,
        _first(result.times, result.mean, level),
        _first(result.times, result.upper, level),
        _first(result.times, result.lower, level),
    )


def last_level_shift(values: NDArray[np.float64], *, window: int = 6) -> int:
    """The index where the last step change begins, or 0.

    A step is a jump between consecutive samples far above the usual one (8 robust standard
    deviations of the differences) that the level keeps afterwards: the median of the
    `window` samples after it differs from the median before it by at least half the jump."""
    if len(values) < 2 * window + 1:
        return 0
    diffs = np.diff(values)
    scale = 1.4826 * float(np.median(np.abs(diffs - np.median(diffs))))
    if scale <= 0:
        scale = float(np.std(diffs)) or 1.0
    found = 0
    for i in np.nonzero(np.abs(diffs) > 8 * scale)[0]:
        at = int(i) + 1
        if at < window or at > len(values) - window:
            continue
        before = float(np.median(values[at - window : at]))
        after = float(np.median(values[at : at + window]))
        jump = float(diffs[i])
        if (after - before) * jump > 0 and abs(after - before) >= abs(jump) / 2:
            found = at
    return found


def seasonal_period(values: NDArray[np.float64], step: float) -> int | None:
    """Samples per season (a day or a week) when the detrended series repeats with it
    strongly enough and at least two seasons are there; else None."""
    best: tuple[float, int] | None = None
    detrended = _detrend(values)
    for season_seconds, seasons_needed in ((DAY, 2), (WEEK, 3)):
        period = round(season_seconds / step)
        if (
            period < 2
            or len(values) < seasons_needed * period
            or abs(period * step - season_seconds) > step / 2
        ):
            continue
        strength = _autocorrelation(detrended, period)
        if strength >= SEASONAL_STRENGTH and (best is None or strength > best[0]):
            best = (strength, period)
    return best[1] if best else None


def _fit(
    y: NDArray[np.float64], season: int | None, steps: int
) -> tuple[str, NDArray[np.float64], NDArray[np.float64]]:
    """The model that forecast the history's own last fifth best, refitted on all of it.

    ETS adapts to a trend that changes; a robust line (with the seasonal profile when there
    is one) ignores noise that ETS would chase. Which suits a series is decided on the
    series: both are fitted on the first 80 %, and the smaller mean absolute error over the
    last 20 % wins (a holdout, as in Hyndman & Athanasopoulos, FPP3 §5.8)."""
    models: list[Callable[..., tuple[str, NDArray[np.float64], NDArray[np.float64]]]] = [
        _robust_linear
    ]
    if len(y) >= MIN_ETS_POINTS:
        models.insert(0, _ets)
    if len(models) > 1:
        cut = int(len(y) * 0.8)
        held = y[cut:]
        errors = []
        for model in models:
            try:
                _, mean, _ = model(y[:cut], season, len(held))
                errors.append(float(np.abs(mean - held).mean()))
            except (ValueError, np.linalg.LinAlgError, FloatingPointError):
                errors.append(math.inf)
        models = [models[int(np.argmin(errors))]] + [
            m for i, m in enumerate(models) if i != int(np.argmin(errors))
        ]
    for model in models:
        try:
            return model(y, season, steps)
        except (ValueError, np.linalg.LinAlgError, FloatingPointError):
            continue
    raise NotEnoughDataError("no model could be fitted to this history")


def _ets(
    y: NDArray[np.float64], season: int | None, steps: int
) -> tuple[str, NDArray[np.float64], NDArray[np.float64]]:
    import pandas as pd
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    model = ETSModel(
        pd.Series(y),
        error="add",
        trend="add",
        seasonal="add" if season else None,
        seasonal_periods=season,
        initialization_method="heuristic" if season else "estimated",
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fitted = model.fit(disp=False, maxiter=200)
        prediction = fitted.get_prediction(start=len(y), end=len(y) + steps - 1)
        frame = prediction.summary_frame(alpha=0.10)
    mean = np.asarray(frame["mean"], dtype=float)
    upper = np.asarray(frame["pi_upper"], dtype=float)
    if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(upper))):
        raise ValueError("the ETS fit diverged")
    name = f"ETS(A,A,A) season {season}" if season else "ETS(A,A,N) (Holt)"
    return name, mean, upper - mean


def _robust_linear(
    y: NDArray[np.float64], season: int | None, steps: int
) -> tuple[str, NDArray[np.float64], NDArray[np.float64]]:
    import statsmodels.api as sm

    if len(y) < MIN_POINTS:
        raise ValueError("too few points for a line")
    x = np.arange(len(y), dtype=float)
    design = sm.add_constant(x)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fitted = sm.RLM(y, design, M=sm.robust.norms.HuberT()).fit()
    intercept, slope = (float(v) for v in fitted.params)
    future = np.arange(len(y), len(y) + steps, dtype=float)
    mean = intercept + slope * future
    scale = float(fitted.scale) if math.isfinite(float(fitted.scale)) else 0.0
    name = "robust linear trend (Huber)"
    if season and len(y) >= 2 * season:
        # The season as the median residual at each phase, repeated into the future.
        residual = y - (intercept + slope * x)
        profile = np.array([float(np.median(residual[phase::season])) for phase in range(season)])
        mean = mean + profile[future.astype(int) % season]
        left = residual - profile[x.astype(int) % season]
        scale = 1.4826 * float(np.median(np.abs(left - np.median(left))))
        name = f"robust linear trend (Huber) + season {season}"
    # Parameter uncertainty grows with the distance from the data's centre.
    centre, spread_x = x.mean(), float(((x - x.mean()) ** 2).sum()) or 1.0
    spread = Z_90 * scale * np.sqrt(1 + 1 / len(y) + (future - centre) ** 2 / spread_x)
    return name, mean, spread


def _clean(times: Values, values: Values) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    t = np.asarray(times, dtype=float)
    y = np.asarray(values, dtype=float)
    keep = np.isfinite(t) & np.isfinite(y)
    t, y = t[keep], y[keep]
    order = np.argsort(t, kind="stable")
    return t[order], y[order]


def _detrend(values: NDArray[np.float64]) -> NDArray[np.float64]:
    x = np.arange(len(values), dtype=float)
    slope, intercept = np.polyfit(x, values, 1)
    return np.asarray(values - (slope * x + intercept), dtype=float)


def _autocorrelation(values: NDArray[np.float64], lag: int) -> float:
    centred = values - values.mean()
    denominator = float((centred**2).sum())
    if denominator <= 0 or lag >= len(values):
        return 0.0
    return float((centred[:-lag] * centred[lag:]).sum()) / denominator


def _first(times: NDArray[np.float64], series: NDArray[np.float64], level: float) -> float | None:
    above = np.nonzero(series >= level)[0]
    return float(times[above[0]]) if len(above) else None
