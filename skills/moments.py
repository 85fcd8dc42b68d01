"""Points in time inside reply text, formatted by each platform for its reader.

A skill never formats a time for a platform: it writes `when(at, now)` into its markdown, a
span holding the instant (Unix seconds), the `now` it was written against and whether seconds
matter. Each renderer shows the span its own way, in its reader's time zone where the platform
can: Slack's `<!date^…>` markup, Adaptive Cards' `{{DATE()}}`/`{{TIME()}}` functions, the
console's JavaScript. Text that reaches no renderer (fallback text, notifications, e-mail)
gets `utc_text`: the time in UTC, with its date whenever it is not from `now`'s day.

The span is delimited by two private-use characters no markup pattern matches and no data
can hold (`skills.markup.literal` removes them from data).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

OPEN = "\ue100"
CLOSE = "\ue101"
SPAN = re.compile(f"{OPEN}(-?\\d+)\\|(-?\\d+)\\|([sm]){CLOSE}")
# Within this much of `now` and on the same UTC day, a time needs no date.
SAME_DAY = timedelta(hours=12)


@dataclass(frozen=True)
class Moment:
    """An instant as a reply shows it: `at` and `now` (aware, UTC), `seconds` shown or not."""

    at: datetime
    now: datetime
    seconds: bool = False

    @property
    def dated(self) -> bool:
        """True when the time is not from `now`'s day (UTC) and so must carry its date."""
        return self.at.date() != self.now.date() or abs(self.at - self.now) >= SAME_DAY

    @property
    def iso(self) -> str:
        """RFC 3339 in UTC with a `Z`, as Adaptive Cards' DATE/TIME functions require."""
        return self.at.strftime("%Y-%m-%dT%H:%M:%SZ")

    @property
    def epoch(self) -> int:
        return int(self.at.timestamp())

    def utc_text(self) -> str:
        """`15:53 UTC` today; `21 Nov 15:53 UTC` another day; `1 Jan 2030 00:00 UTC` another
        year (`%H:%M:%S` when seconds matter)."""
        clock = self.at.strftime("%H:%M:%S" if self.seconds else "%H:%M")
        if not self.dated:
            return f"{clock} UTC"
        day = f"{self.at.day} {self.at:%b}"
        if self.at.year != self.now.year:
            day += f" {self.at.year}"
        return f"{day} {clock} UTC"


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def when(at: datetime, now: datetime, *, seconds: bool = False) -> str:
    """The span for `at`, written as of `now` (naive datetimes are taken as UTC)."""
    at, now = _utc(at), _utc(now)
    return f"{OPEN}{int(at.timestamp())}|{int(now.timestamp())}|{'s' if seconds else 'm'}{CLOSE}"


def moment_of(match: re.Match[str]) -> Moment:
    return Moment(
        at=datetime.fromtimestamp(int(match[1]), UTC),
        now=datetime.fromtimestamp(int(match[2]), UTC),
        seconds=match[3] == "s",
    )


def show_moments(text: str, show: Callable[[Moment], str]) -> str:
    """`text` with every span replaced by `show(moment)`."""
    if OPEN not in text:
        return text
    return SPAN.sub(lambda match: show(moment_of(match)), text)


_INSTANT = re.compile(r"\b(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})Z\b")


def instants(text: str, now: datetime) -> str:
    """`text` (markdown) with each RFC 3339 UTC instant core wrote (`2026-11-21T03:00:12Z`,
    see `core.wording.clock`) as a time span written as of `now`."""
    return _INSTANT.sub(
        lambda match: when(datetime.fromisoformat(match[1]).replace(tzinfo=UTC), now, seconds=True),
        text,
    )


def in_utc(text: str) -> str:
    """Every span as its UTC text (`Moment.utc_text`)."""
    return show_moments(text, Moment.utc_text)


def has_moments(text: str) -> bool:
    return OPEN in text and SPAN.search(text) is not None


def without_delimiters(text: str) -> str:
    """`text` unable to hold a span (for data: alert names, labels, what people typed)."""
    return text.replace(OPEN, "").replace(CLOSE, "")


def safe_end(text: str) -> int:
    """Where `text` may be cut without splitting a span: its length, or the start of a span
    left open at its end."""
    opened = text.rfind(OPEN)
    return opened if opened > text.rfind(CLOSE) else len(text)
