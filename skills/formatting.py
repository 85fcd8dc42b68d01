"""Small text helpers shared by skills: times, durations, severity marks."""

from __future__ import annotations

from datetime import datetime, timedelta

SEVERITY_MARKS = {"critical": "🔴", "error": "🟠", "warning": "🟡", "info": "🔵"}


def mark(severity: str, status: str) -> str:
    if status == "resolved":
        return "✅"
    return SEVERITY_MARKS.get(severity, "⚪")


def clock_time(moment: datetime) -> str:
    return moment.strftime("%H:%M:%S UTC")


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


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
