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


BARS = "▁▂▃▄▅▆▇█"


def sparkline_text(values: Sequence[float], *, width: int = 16) -> str:
    """A Unicode sparkline (`▁▂▅█▇`) of at most `width` characters: the values averaged
    into `width` buckets and scaled from zero (or their minimum, when below zero) to their
    maximum, so a steady rate draws flat and a drop to half draws half as tall;
    not-a-number values are left out; empty when nothing is left."""
    finite = [v for v in values if v == v and abs(v) != float("inf")]
    if not finite:
        return ""
    buckets: list[float] = []
    size = max(len(finite) / width, 1.0)
    index = 0.0
    while int(index) < len(finite):
        chunk = finite[int(index) : max(int(index + size), int(index) + 1)]
        buckets.append(sum(chunk) / len(chunk))
        index += size
    low, high = min(0.0, *buckets), max(buckets)
    if high - low <= abs(high) * 1e-9:
        return BARS[0] * len(buckets)
    scale = (len(BARS) - 1) / (high - low)
    return "".join(BARS[round((v - low) * scale)] for v in buckets)


def panels_png(
    panels: Sequence[tuple[str, Sequence[tuple[float, float]], Sequence[tuple[float, float]]]],
    *,
    title: str = "",
) -> bytes:
    """Small multiples: one 480×70 px row per (title, now points, baseline points) — the
    baseline drawn grey beneath, on the same time axis (its times already moved there)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot
    from matplotlib.dates import DateFormatter, date2num

    rows = max(len(panels), 1)
    figure, axes_list = pyplot.subplots(
        rows, 1, figsize=(4.8, 0.3 + 0.7 * rows), dpi=100, squeeze=False
    )
    try:
        for axes, (name, now, before) in zip((row[0] for row in axes_list), panels, strict=False):
            for points, style in ((before, {"color": "#aaaaaa"}), (now, {"color": "#1f77b4"})):
                if points:
                    times = [date2num(datetime.fromtimestamp(t, tz=UTC)) for t, _ in points]  # type: ignore[no-untyped-call]
                    axes.plot(times, [v for _, v in points], linewidth=1.1, **style)
            axes.set_title(name[:70], fontsize=7, loc="left", pad=2)
            axes.xaxis.set_major_formatter(DateFormatter("%H:%M", tz=UTC))  # type: ignore[no-untyped-call]
            axes.tick_params(labelsize=6)
            for side in ("top", "right"):
                axes.spines[side].set_visible(False)
        if title:
            figure.suptitle(title[:80], fontsize=8, x=0.01, ha="left")
        figure.tight_layout(pad=0.3)
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
        return buffer.getvalue()
    finally:
        pyplot.close(figure)
