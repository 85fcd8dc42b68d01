"""How times read in timeline texts: "40 s", "12 min", "2.5 h"."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


def duration(delta: timedelta) -> str:
    """A non-negative span as people say it (seconds up to 90 s, minutes up to 90 min)."""
    seconds = max(int(delta.total_seconds()), 0)
    if seconds < 90:
        return f"{seconds} s"
    if seconds < 5400:
        return f"{round(seconds / 60)} min"
    return f"{seconds / 3600:.1f} h"


def describe_gap(at: datetime, last_alert_at: datetime) -> str:
    """`40 s after the last alert` or `2 min before the last alert`."""
    if at >= last_alert_at:
        return f"{duration(at - last_alert_at)} after the last alert"
    return f"{duration(last_alert_at - at)} before the last alert"


def clock(at: datetime) -> str:
    """An instant in texts core writes, as RFC 3339 in UTC (`2026-11-21T03:00:12Z`): whoever
    shows the text formats it for its reader (skills show it as a time span)."""
    moment = at.astimezone(UTC) if at.tzinfo else at
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def plural(count: float, noun: str, many: str | None = None) -> str:
    """`count` and the noun in the number it takes: `1 hop`, `2 hops`, `0 alerts`,
    `1 open incident`, `3 open incidents`, `1.5 days`. `many` is the plural where adding `s`
    is wrong (`plural(2, "match", "matches")`). Digits are grouped: `1,204 alerts`."""
    word = noun if count == 1 else (many or noun + "s")
    number = f"{count:,}" if isinstance(count, int) else f"{count:,g}"
    return f"{number} {word}"
