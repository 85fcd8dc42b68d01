"""On-call shifts from an iCalendar feed, as Grafana OnCall and PagerDuty export schedules.

Each event is a shift. Its person is the attendee's email where there is one (PagerDuty
writes `ATTENDEE:mailto:…`), else the summary (Grafana OnCall writes the username;
PagerDuty's "On Call - Dana Lee - Primary" gives "Dana Lee"). Recurring events are expanded
by recurring-ical-events (RFC 5545 RRULE, RDATE, EXDATE and moved instances).
"""

from __future__ import annotations

import logging
import re
from datetime import date, datetime, timedelta
from pathlib import Path

import httpx
import icalendar
import recurring_ical_events

from core.escalation import zone
from core.oncall import Shift

log = logging.getLogger(__name__)

_PAGERDUTY_SUMMARY = re.compile(r"^\s*On Call\s*-\s*(.+?)\s*-\s*.+$", re.IGNORECASE)


class CalendarError(Exception):
    """The feed could not be read or parsed; the message says why."""


def _moment(value: date | datetime, tz: str) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=zone(tz))
    return datetime(value.year, value.month, value.day, tzinfo=zone(tz))


def _person(event: icalendar.Event) -> str:
    attendee = event.get("ATTENDEE")
    if isinstance(attendee, list):
        attendee = attendee[0] if attendee else None
    if attendee is not None:
        address = str(attendee)
        if address.lower().startswith("mailto:"):
            return address[7:]
    summary = str(event.get("SUMMARY") or "").strip()
    match = _PAGERDUTY_SUMMARY.match(summary)
    return match[1] if match else summary


def calendar_shifts(
    text: str | bytes, *, since: datetime, until: datetime, tz: str = "UTC"
) -> list[Shift]:
    """The shifts of the feed `text` that overlap [since, until). Raises CalendarError."""
    try:
        calendar = icalendar.Calendar.from_ical(text)
        events = recurring_ical_events.of(calendar).between(since, until)
    except Exception as error:  # the parsers raise ValueError and their own kinds
        raise CalendarError(f"not a readable iCalendar feed: {error}") from error
    shifts = []
    for event in events:
        start = event.get("DTSTART")
        if start is None:
            continue
        begins = _moment(start.dt, tz)
        end = event.get("DTEND")
        if end is not None:
            ends = _moment(end.dt, tz)
        else:
            duration = event.get("DURATION")
            ends = begins + (duration.dt if duration is not None else timedelta(days=1))
        person = _person(event)
        if person and ends > begins:
            shifts.append(Shift(person, begins, ends, "calendar"))
    return sorted(shifts, key=lambda shift: shift.start)


class CalendarFeed:
    """One schedule's feed: an https URL or a file, read again every `refresh` and kept
    when a read fails (the last good shifts answer, and the log says why)."""

    def __init__(
        self, location: str, *, http: httpx.AsyncClient, refresh: timedelta, base: Path | None
    ) -> None:
        self.location = location
        self._http = http
        self._refresh = refresh
        self._base = base
        self._text: bytes | None = None
        self._read_at: datetime | None = None
        self.problem: str | None = None

    async def text(self, now: datetime) -> bytes:
        """The feed's text; raises CalendarError when it was never read successfully."""
        if self._text is None or self._read_at is None or now - self._read_at >= self._refresh:
            try:
                self._text = await self._read()
                self.problem = None
            except CalendarError as error:
                self.problem = str(error)
                log.warning("on-call calendar unreadable", extra={"error": str(error)})
                if self._text is None:
                    raise
            self._read_at = now
        return self._text

    async def _read(self) -> bytes:
        if self.location.startswith(("https://", "http://")):
            try:
                response = await self._http.get(self.location, timeout=10)
            except httpx.HTTPError as error:
                raise CalendarError(f"the calendar could not be fetched: {error!r}") from error
            if not response.is_success:
                raise CalendarError(f"the calendar answered HTTP {response.status_code}")
            return response.content
        path = Path(self.location)
        if not path.is_absolute() and self._base is not None:
            path = self._base / path
        try:
            return path.read_bytes()
        except OSError as error:
            raise CalendarError(f"cannot read {path}: {error.strerror}") from error
