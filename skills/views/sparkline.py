"""Small PNG line charts for chat: one or a few series over time, the change point marked."""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import UTC, datetime


def sparkline_png(
    series: Sequence[tuple[str, Sequence[tuple[float, float]]]],
    *,
    title: str = "",
    marker: datetime | None = None,
) -> bytes:
    """A 480×140 px PNG of (name, [(Unix seconds, value)]) series; `marker` draws a
    vertical line (an incident's start)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot
    from matplotlib.dates import DateFormatter, date2num

    figure, axes = pyplot.subplots(figsize=(4.8, 1.4), dpi=100)
    try:
        for name, points in series[:6]:
            if points:
                times = [date2num(datetime.fromtimestamp(t, tz=UTC)) for t, _ in points]  # type: ignore[no-untyped-call]
                axes.plot(times, [v for _, v in points], linewidth=1.2, label=name[:40])
        if marker is not None:
            at = float(date2num(marker))  # type: ignore[no-untyped-call]
            axes.axvline(at, color="#d33", linewidth=0.8, linestyle="--")
        axes.xaxis.set_major_formatter(DateFormatter("%H:%M", tz=UTC))  # type: ignore[no-untyped-call]
        axes.tick_params(labelsize=7)
        for side in ("top", "right"):
            axes.spines[side].set_visible(False)
        if title:
            axes.set_title(title[:80], fontsize=8, loc="left")
        if 1 < len(series) <= 6:
            axes.legend(fontsize=6, frameon=False, loc="upper left")
        figure.tight_layout(pad=0.3)
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
        return buffer.getvalue()
    finally:
        pyplot.close(figure)
