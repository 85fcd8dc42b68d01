"""Pictures for reports: an SLO's error budget over its window, a resource's usage with its
forecast. Pure functions to PNG bytes on their own `FigureCanvasAgg` (no pyplot, no global
backend), so two renders of one input give the same bytes."""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
from matplotlib.figure import Figure
from numpy.typing import NDArray

from core.capacity import Forecast

BUDGET_COLOUR = "#1f77b4"
FORECAST_COLOUR = "#ff7f0e"
LIMIT_COLOURS = ("#bcbd22", "#ff9f1c", "#d62728")


def render_budget_png(
    times: Sequence[float], remaining: Sequence[float | None], *, title: str, dpi: int = 100
) -> bytes:
    """Budget remaining (1 = untouched) across the SLO window, as a percentage."""
    figure, axes = _figure()
    kept = [(t, r * 100) for t, r in zip(times, remaining, strict=True) if r is not None]
    if kept:
        dates = _dates_of([t for t, _ in kept])
        values = [v for _, v in kept]
        axes.plot(dates, values, color=BUDGET_COLOUR, linewidth=1.6, label="budget left")
        axes.fill_between(dates, values, 0, color=BUDGET_COLOUR, alpha=0.12)
    axes.axhline(0, color=LIMIT_COLOURS[2], linewidth=1, linestyle="--", label="exhausted")
    axes.set_ylabel("error budget left (%)")
    axes.set_title(title, fontsize=9, loc="left")
    axes.legend(loc="lower left", fontsize=7, frameon=False)
    _dates(axes)
    return _png(figure, dpi)


def render_capacity_png(
    times: Sequence[float],
    usage: Sequence[float],
    result: Forecast | None,
    *,
    limit: float,
    levels: Sequence[float],
    title: str,
    dpi: int = 100,
) -> bytes:
    """Usage as a share of the limit, the forecast with its 90 % interval, and the levels."""
    figure, axes = _figure()
    axes.plot(
        _dates_of(times),
        [u / limit * 100 for u in usage],
        color=BUDGET_COLOUR,
        linewidth=1.2,
        label="usage",
    )
    if result is not None:
        dates = _dates_of([float(t) for t in result.times])
        axes.plot(
            dates,
            result.mean / limit * 100,
            color=FORECAST_COLOUR,
            linewidth=1.4,
            label=f"forecast ({result.method})",
        )
        axes.fill_between(
            dates,
            result.lower / limit * 100,
            result.upper / limit * 100,
            color=FORECAST_COLOUR,
            alpha=0.18,
            label="90 % interval",
        )
    for share, colour in zip(levels, LIMIT_COLOURS, strict=False):
        axes.axhline(share * 100, color=colour, linewidth=0.9, linestyle="--")
    axes.set_ylabel("% of limit")
    axes.set_title(title, fontsize=9, loc="left")
    axes.legend(loc="upper left", fontsize=7, frameon=False)
    _dates(axes)
    return _png(figure, dpi)


def _figure() -> tuple[Figure, Axes]:
    figure = Figure(figsize=(7.5, 3.4))
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    axes.grid(True, linewidth=0.3, alpha=0.5)
    return figure, axes


def _dates(axes: Axes) -> None:
    locator = AutoDateLocator()  # type: ignore[no-untyped-call]
    axes.xaxis.set_major_locator(locator)
    axes.xaxis.set_major_formatter(ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]


def _dates_of(times: Sequence[float]) -> NDArray[np.datetime64]:
    """Unix seconds as numpy datetimes (UTC), which matplotlib plots on a date axis."""
    return np.asarray(np.round(np.asarray(times, dtype=float)), dtype="int64").astype(
        "datetime64[s]"
    )


def _png(figure: Figure, dpi: int) -> bytes:
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi, metadata={"Software": None})
    return buffer.getvalue()
