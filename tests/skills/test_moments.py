"""Times in reply text: spans each renderer formats; their UTC text with the date whenever the
time is not from `now`'s day; never split by a cut, never forged by data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from skills.markup import cut, literal, plain
from skills.moments import OPEN, SPAN, in_utc, instants, when

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def test_a_time_from_today_is_its_clock_and_any_other_carries_its_date() -> None:
    assert in_utc(when(NOW - timedelta(hours=2), NOW, seconds=True)) == "10:00:00 UTC"
    nine_days = datetime(2026, 11, 21, 15, 53, 43, tzinfo=UTC)
    assert in_utc(when(nine_days, NOW, seconds=True)) == "21 Nov 15:53:43 UTC"
    assert in_utc(when(datetime(2030, 1, 1, tzinfo=UTC), NOW)) == "1 Jan 2030 00:00 UTC"
    # Yesterday evening, a few hours ago, is another day all the same.
    assert in_utc(when(datetime(2026, 11, 29, 23, 0, tzinfo=UTC), NOW)) == "29 Nov 23:00 UTC"


def test_plain_text_shows_spans_in_utc() -> None:
    text = f"Opened {when(datetime(2026, 11, 21, 3, 0, tzinfo=UTC), NOW)} · **late**"
    assert plain(text) == "Opened 21 Nov 03:00 UTC · **late**"


def test_a_cut_never_splits_a_span() -> None:
    text = "x" * 40 + " " + when(NOW, NOW) * 10
    for limit in range(30, len(text)):
        shortened = cut(text, limit)
        assert shortened.count(OPEN) == len(SPAN.findall(shortened)), (limit, shortened)


def test_data_cannot_forge_a_span() -> None:
    forged = when(NOW, NOW)
    assert SPAN.search(literal(f"alert {forged}")) is None


def test_instants_core_wrote_become_spans() -> None:
    text = instants("failed first (2026-11-21T15:53:43Z)", NOW)
    assert in_utc(text) == "failed first (21 Nov 15:53:43 UTC)"
