"""Series the test controls, at the times it chooses: OpenMetrics text turned into TSDB blocks
with Debian's `promtool tsdb create-blocks-from openmetrics` (Prometheus' documented
backfilling), which the real Prometheus then serves — so "the same window a day ago" and
"a week ago" hold exactly what the test wrote."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

PROMTOOL = shutil.which("promtool")
STEP = 15.0  # seconds between samples, as a common scrape interval

Rate = Callable[[float], float]  # Unix seconds → events per second
Labels = dict[str, str]


@dataclass
class OpenMetrics:
    """Metric families being written; each sample series is cumulative where it counts."""

    families: dict[str, tuple[str, list[str]]] = field(default_factory=dict)

    def _lines(self, family: str, kind: str) -> list[str]:
        known = self.families.setdefault(family, (kind, []))
        assert known[0] == kind, f"{family} is a {known[0]}"
        return known[1]

    def counter(self, name: str, labels: Labels, rate: Rate, spans: Iterable[Span]) -> None:
        """`name` (ending in `_total`) counting `rate(t)` events per second over `spans`."""
        assert name.endswith("_total")
        lines = self._lines(name.removesuffix("_total"), "counter")
        total = 0.0
        for t in times(spans):
            total += rate(t) * STEP
            lines.append(f"{name}{_labels(labels)} {total:.3f} {t:.0f}")

    def histogram(
        self,
        name: str,
        labels: Labels,
        rate: Rate,
        value: Callable[[float], float],
        bounds: list[float],
        spans: Iterable[Span],
    ) -> None:
        """A histogram `name` observing `rate(t)` events per second, each of `value(t)`."""
        lines = self._lines(name, "histogram")
        counts = [0.0] * (len(bounds) + 1)
        observed = 0.0
        for t in times(spans):
            events, seen = rate(t) * STEP, value(t)
            index = next((i for i, bound in enumerate(bounds) if seen <= bound), len(bounds))
            for i in range(index, len(counts)):
                counts[i] += events
            observed += events * seen
            for bound, count in zip([*map(_float, bounds), "+Inf"], counts, strict=True):
                lines.append(f"{name}_bucket{_labels({**labels, 'le': bound})} {count:.3f} {t:.0f}")
            lines.append(f"{name}_count{_labels(labels)} {counts[-1]:.3f} {t:.0f}")
            lines.append(f"{name}_sum{_labels(labels)} {observed:.3f} {t:.0f}")

    def text(self) -> str:
        out = []
        for family, (kind, lines) in self.families.items():
            out.append(f"# TYPE {family} {kind}")
            out += lines  # each series (a histogram: each label set) written whole, in order
        return "\n".join([*out, "# EOF"]) + "\n"


Span = tuple[float, float]


def times(spans: Iterable[Span]) -> list[float]:
    found: list[float] = []
    for start, end in sorted(spans):
        t = start - start % STEP
        while t <= end:
            found.append(t)
            t += STEP
    return found


def backfill(metrics: OpenMetrics, folder: Path) -> Path:
    """Write the blocks into `folder / "data"` (Prometheus' storage path); returns it."""
    assert PROMTOOL is not None, "promtool comes with Debian's prometheus package"
    source = folder / "backfill.om"
    source.write_text(metrics.text())
    data = folder / "data"
    subprocess.run(
        [PROMTOOL, "tsdb", "create-blocks-from", "openmetrics", str(source), str(data)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return data


def _float(bound: float) -> str:
    return f"{bound:g}"


def _labels(labels: Labels) -> str:
    inner = ",".join(f'{key}="{value}"' for key, value in labels.items())
    return f"{{{inner}}}"
