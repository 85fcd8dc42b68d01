"""Times in Slack messages are Slack's date markup (each reader's own zone, with the date when
not from today), and an answer placed in an incident's thread elsewhere leaves a linked line
where the command was typed. Real Bolt over HTTP with signed requests, a fake Slack Web API."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.slack.render import render_blocks
from skills.contract import Reply, Table
from skills.moments import when
from tests.bot.slack.conftest import SlackWorld, slash_command
from tests.bot.slack.test_slack_adapter import ingest

CARD_TS = "1700000000.000001"  # the fake numbers its messages in order
DATE_MARKUP = re.compile(r"<!date\^(\d+)\^\{date_short_pretty\} \{time(?:_secs)?\}\|([^>]*)>")


def payload(service: str, starts_at: datetime, name: str = "HighErrorRate") -> dict[str, Any]:
    return {
        "version": "4",
        "groupKey": f'{{}}:{{service="{service}"}}',
        "status": "firing",
        "receiver": "lookout",
        "alerts": [
            {
                "status": "firing",
                "labels": {"alertname": name, "service": service, "severity": "critical"},
                "annotations": {"summary": "5xx above 5%"},
                "startsAt": starts_at.isoformat().replace("+00:00", "Z"),
                "endsAt": "0001-01-01T00:00:00Z",
            }
        ],
    }


def posted_text(call: Any) -> str:
    return json.dumps(call.params.get("blocks"), ensure_ascii=False)


async def test_show_typed_elsewhere_answers_in_the_thread_and_links_to_it_from_where_asked(
    slack: SlackWorld,
) -> None:
    """`show` typed in #incidents about an incident whose card is in #payments: the answer in
    the card's thread, and in #incidents one line with the answer's permalink."""
    old = (datetime.now(UTC) - timedelta(days=9)).replace(
        hour=15, minute=53, second=43, microsecond=0
    )
    await ingest(slack, payload("payments", old))
    [card] = slack.fake.calls_to("chat.postMessage")
    assert card.params["channel"] == "#payments"

    body = slash_command("show 1", trigger="t-show", response_url=slack.fake.response_url())
    await slack.send(body)
    calls = await slack.fake.wait_for("chat.postMessage", 3)
    answer, pointer = calls[1], calls[2]
    assert answer.params["channel"] == "C0PAYMENTS"
    assert answer.params["thread_ts"] == CARD_TS
    [link] = slack.fake.calls_to("chat.getPermalink")
    assert link.params["channel"] == "C0PAYMENTS"
    assert pointer.params["channel"] == "C0INCIDENTS" and "thread_ts" not in pointer.params
    permalink = "https://example.slack.com/archives/C0PAYMENTS/p1700000000000002"
    assert f"<{permalink}|INC-1's thread>" in posted_text(pointer)
    assert "Answered in" in pointer.params["text"]

    # The nine-day-old start: Slack's date markup, its UTC fallback with the date.
    shown = posted_text(answer)
    found = {(int(unix), fallback) for unix, fallback in DATE_MARKUP.findall(shown)}
    assert (int(old.timestamp()), f"{old.day} {old:%b} 15:53:43 UTC") in found
    assert "15:53:43 UTC" not in DATE_MARKUP.sub("", shown)


async def test_an_alert_from_another_year_shows_its_date_and_year(slack: SlackWorld) -> None:
    # Another year than now's; a start in the future would be taken as the receive time.
    earlier = datetime(2021, 1, 1, tzinfo=UTC)
    await ingest(slack, payload("checkout", earlier))
    [card] = slack.fake.calls_to("chat.postMessage")
    found = DATE_MARKUP.findall(posted_text(card))
    assert (str(int(earlier.timestamp())), "1 Jan 2021 00:00:00 UTC") in found
    assert "00:00:00 UTC" not in DATE_MARKUP.sub("", posted_text(card))


async def test_an_answer_in_the_thread_it_was_asked_in_leaves_no_pointer(
    slack: SlackWorld,
) -> None:
    await ingest(slack, payload("checkout", datetime.now(UTC)))
    body = slash_command("show 1", trigger="t-here", response_url=slack.fake.response_url())
    await slack.send(body)  # the card is in #incidents, where the command was typed
    calls = await slack.fake.wait_for("chat.postMessage", 2)
    assert calls[1].params["thread_ts"] == CARD_TS
    assert slack.fake.calls_to("chat.getPermalink") == []
    assert not any("Answered in" in str(call.params.get("text")) for call in calls)


def test_a_table_with_times_is_listed_row_by_row_so_slack_formats_them() -> None:
    now = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    at = datetime(2026, 11, 21, 15, 53, 43, tzinfo=UTC)
    table = Table(("Alert", "Started"), (("HighErrorRate", when(at, now, seconds=True)),))
    shown = json.dumps(render_blocks(Reply(blocks=[table])), ensure_ascii=False)
    assert "```" not in shown  # Slack formats no date inside a code block
    assert f"<!date^{int(at.timestamp())}^{{date_short_pretty}} {{time_secs}}|" in shown
    assert "21 Nov 15:53:43 UTC>" in shown
