"""How dependency health reads in chat, from `DependencyHealth.record()` dicts (the live
answer of `health` and the stored snapshot of `correlate` read the same way)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from core.wording import plural
from skills.contract import Image, Table
from skills.evidence_text import value_text
from skills.views.sparkline import panels_png, sparkline_text

MARKS = {"failing": "🔴", "degraded": "🟠", "healthy": "🟢"}
UNITS = {"requests": "per_second", "errors": "percent", "latency": "seconds"}
KEYS = {"requests": "rate", "errors": "error_ratio", "latency": "latency"}
MAX_PANELS = 4


def call_name(record: dict[str, Any]) -> str:
    return f"{record['client']} → {record['server']}"


def _number(value: Any) -> float:
    return float(value) if value is not None else math.nan


def _cell(record: dict[str, Any], signal: str) -> str:
    """`12.3/s (−4 %)` for requests; `8.1 % (was 0.2 %)` and `240 ms (was 80 ms)`."""
    unit = UNITS[signal]
    now = _number(record["now"][KEYS[signal]])
    baseline = record.get("baseline")
    before = _number(baseline[KEYS[signal]]) if baseline else math.nan
    shown = value_text(now, unit)
    if not math.isfinite(before):
        return shown
    if signal == "requests":
        if before > 0 and math.isfinite(now):
            return f"{shown} ({(now - before) / before * 100:+.0f} %)"
        return shown
    return f"{shown} (was {value_text(before, unit)})"


def status_text(record: dict[str, Any]) -> str:
    """`🔴 errors, latency` — the mark and what moved; `🟢` when nothing did."""
    moved = ", ".join(dict.fromkeys(f["signal"] for f in record.get("findings") or []))
    return f"{MARKS.get(record['status'], '⚪')} {moved}".rstrip()


def finding_text(record: dict[str, Any]) -> str:
    """One line: `checkout → payments: errors 8.1 % (was 0.2 %), p95 2.4× (1d ago)`."""
    parts = []
    for finding in record.get("findings") or []:
        signal = finding["signal"]
        now, before = _number(finding["now"]), _number(finding["before"])
        if signal == "latency" and before > 0:
            parts.append(f"latency {value_text(now, 'seconds')} ({now / before:.1f}× baseline)")
        elif signal == "requests" and before > 0:
            parts.append(f"traffic {(now - before) / before * 100:+.0f} %")
        else:
            was = f" (was {value_text(before, 'percent')})" if math.isfinite(before) else ""
            parts.append(f"errors {value_text(now, 'percent')}{was}")
    against = record.get("baseline_label") or "no baseline"
    return f"{call_name(record)}: " + ", ".join(parts) + f" — against {against}"


def health_table(records: Sequence[dict[str, Any]], *, quantile: str) -> Table:
    rows = []
    for record in records:
        points = [v for _, v in record.get("trend") or [] if v is not None]
        trend = sparkline_text(points, width=12)
        rows.append(
            (
                call_name(record),
                status_text(record),
                _cell(record, "requests"),
                _cell(record, "errors"),
                _cell(record, "latency"),
                f"{record['headline']} {trend}".strip() if trend else "—",
            )
        )
    return Table(
        columns=("Call", "Status", "Requests", "Errors", quantile, "Trend"), rows=tuple(rows)
    )


def health_chart(records: Sequence[dict[str, Any]], *, title: str) -> Image | None:
    """The headline signal of the worst few calls now (blue) over their baseline (grey)."""
    chosen = [r for r in records if r["status"] != "healthy"] or list(records)
    panels = []
    for record in chosen[:MAX_PANELS]:
        now = [(float(t), float(v)) for t, v in record.get("trend") or [] if v is not None]
        before = [
            (float(t), float(v)) for t, v in record.get("trend_baseline") or [] if v is not None
        ]
        if not now:
            continue
        name = f"{call_name(record)} · {record['headline']} (grey: {record['baseline_label']})"
        panels.append((name, now, before))
    if not panels:
        return None
    return Image(
        png=panels_png(panels, title=title),
        alt=f"Trend of {plural(len(panels), 'call')} against their baseline",
    )
