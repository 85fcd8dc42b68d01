"""Slack's text as its author typed it: escaping undone once, every kind of markup read."""

from __future__ import annotations

import pytest

from bot.slack.text import mentioned_users, typed_text

NAMES = {"U0BOB": "Bob Stone", "W0ANA": "Ana Lima"}
# What Slack sends → what the person typed (api.slack.com/reference/surfaces/formatting).
CASES = {
    "escaped comparison": ("p99 &gt; 2s &amp; rising", "p99 > 2s & rising"),
    "escaped angle brackets": ("&lt;none&gt; pods", "<none> pods"),
    "an escaped entity stays an entity": ("&amp;lt; is how html says <", "&lt; is how html says <"),
    "another person's mention": ("handing over to <@U0BOB>", "handing over to @Bob Stone"),
    "a mention with its legacy label": ("cc <@W0ANA|ana>", "cc @Ana Lima"),
    "an unknown person keeps the label": ("cc <@U0EVE|eve>", "cc @eve"),
    "an unknown person without a label": ("cc <@U0EVE>", "cc @U0EVE"),
    "Lookout's own mention is dropped": ("<@UBOT> ack INC-4", "ack INC-4"),
    "Lookout mentioned twice": ("<@UBOT> note 4 ask <@UBOT|lookout>", "note 4 ask"),
    "a channel": ("moved to <#C0DB|db-oncall>", "moved to #db-oncall"),
    "a channel without its name": ("moved to <#C0DB>", "moved to #C0DB"),
    "a labelled link": (
        "see <https://runbooks.example.com/db?a=1&amp;b=2|the runbook>",
        "see the runbook (https://runbooks.example.com/db?a=1&b=2)",
    ),
    "a bare link": ("<https://grafana.example.com/d/x>", "https://grafana.example.com/d/x"),
    "an auto-linked host": ("<http://example.com|example.com>", "http://example.com"),
    "an email address": ("<mailto:ops@example.com|ops@example.com>", "ops@example.com"),
    "a labelled email": ("<mailto:ops@example.com|the ops list>", "the ops list (ops@example.com)"),
    "@here": ("<!here> db down", "@here db down"),
    "@channel with a label": ("<!channel|@channel> db down", "@channel db down"),
    "a user group": ("paging <!subteam^S0DB|@db-team>", "paging @db-team"),
    "a date": ("since <!date^1392734382^{date_short}|Feb 18, 2014>", "since Feb 18, 2014"),
}


@pytest.mark.parametrize(("sent", "typed"), CASES.values(), ids=CASES.keys())
def test_slack_text_becomes_what_was_typed(sent: str, typed: str) -> None:
    assert typed_text(sent, names=NAMES, drop_user="UBOT") == typed


def test_mentioned_people_are_listed_once_each() -> None:
    text = "<@U0BOB> and <@W0ANA|ana> and <@U0BOB> in <#C0DB|db>"
    assert mentioned_users(text) == ["U0BOB", "W0ANA"]
