"""Small text helpers shared by skills: times, durations, severity marks."""

from __future__ import annotations

from datetime import datetime, timedelta

from skills.moments import when

SEVERITY_MARKS = {"critical": "🔴", "error": "🟠", "warning": "🟡", "info": "🔵"}


def mark(severity: str, status: str) -> str:
    if status == "resolved":
        return "✅"
    return SEVERITY_MARKS.get(severity, "⚪")


def clock_time(moment: datetime, now: datetime) -> str:
    """`moment` to the second, as a time span each platform shows in its reader's zone,
    with its date when it is not from `now`'s day (`skills.moments`)."""
    return when(moment, now, seconds=True)


def stamp(moment: datetime, now: datetime) -> str:
    """`moment` to the minute, as a time span (see `clock_time`)."""
    return when(moment, now)


def duration(span: timedelta) -> str:
    seconds = max(0, int(span.total_seconds()))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s" if seconds else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def age(since: datetime, now: datetime) -> str:
    return duration(now - since)
