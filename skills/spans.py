"""Time spans as people type them: `15m`, `2h`, `1d`, `1w` (also `90s`, `1h30m`)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated

from pydantic import BeforeValidator

_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
LONGEST = timedelta(days=90)


def parse_span(text: object) -> timedelta:
    """`2h` → 2 hours; raises ValueError with the accepted forms otherwise."""
    if isinstance(text, timedelta):
        return text
    cleaned = str(text).strip().lower().replace(" ", "")
    parts = _PART.findall(cleaned)
    if not cleaned or "".join(f"{n}{u}" for n, u in parts) != cleaned:
        raise ValueError(f"{text!r} is not a time span; write it like 15m, 2h, 1d or 1w")
    seconds = sum(float(number) * _UNITS[unit] for number, unit in parts)
    span = timedelta(seconds=seconds)
    if not timedelta(seconds=1) <= span <= LONGEST:
        raise ValueError("a time span must be between 1s and 90d")
    return span


Span = Annotated[timedelta, BeforeValidator(parse_span)]


def span_text(span: timedelta) -> str:
    """`2h`, `15m`, `1d` — the short form, as typed."""
    seconds = int(span.total_seconds())
    for unit, size in (("w", _UNITS["w"]), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
