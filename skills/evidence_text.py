"""How evidence reads in chat: values with their units, a series' move in one phrase."""

from __future__ import annotations

import math
from typing import Any


def value_text(value: float, unit: str) -> str:
    """`4.2 %`, `310 ms`, `12.5/s`, `1,204`."""
    if not math.isfinite(value):
        return "—"
    if unit == "percent":
        return f"{value * 100:.1f} %"
    if unit == "seconds":
        return f"{value * 1000:.0f} ms" if value < 10 else f"{value:.1f} s"
    if unit == "per_second":
        return f"{value:.3g}/s"
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"


def movement_text(record: dict[str, Any]) -> str:
    """`errors 0.2 % → 12.0 % (z 41)`."""
    unit = str(record.get("unit", "number"))
    arrow = "↑" if record.get("direction", 1) >= 0 else "↓"
    return (
        f"{record['signal']} {value_text(float(record['baseline']), unit)} {arrow} "
        f"{value_text(float(record['peak']), unit)} (z {float(record['score']):.0f})"
    )
