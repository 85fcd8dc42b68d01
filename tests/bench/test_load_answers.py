"""`bench/load.py` matches each answer the fake Slack receives to the request it answers:
a click answered privately (response_url) never takes a post in the thread that another
click is waiting for, and Lookout's own posts in a thread answer nobody."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from bench.load import AnswerBook, thread_key
from tests.bot.slack.fake_slack import Call

CARD = "🔴 *INC-4 · checkout: HighErrorRate*\nStatus: Triggered"


def post(thread: str, text: str, at: float) -> Call:
    return Call("chat.postMessage", {"channel": "C1", "thread_ts": thread, "text": text}, at)


def test_thread_posts_are_told_apart_by_kind() -> None:
    assert (
        thread_key("1.1", "✅ INC-4 acknowledged by *Load 003* — 2 s") == "thread:1.1:ack:Load 003"
    )
    assert thread_key("1.1", CARD) == "thread:1.1:show"
    assert thread_key("1.1", "Deploy api v2 finished") == "thread:1.1:other"


async def test_a_private_answer_leaves_the_thread_post_to_the_click_it_answers() -> None:
    fake: Any = SimpleNamespace(calls=[], history={})
    book = AnswerBook(fake)
    # The first click's ack is answered privately: the incident was already acknowledged.
    first = book.expect("hook:a", "thread:1.1:ack:Load 001")
    second = book.expect("hook:b", "thread:1.1:ack:Load 002")
    show = book.expect("hook:c", "thread:1.1:show")
    fake.calls.append(post("1.1", "Alert resolved: disk on db-1", 1.0))
    fake.calls.append(post("1.1", "✅ INC-4 acknowledged by *Load 002* — 3 s", 2.0))
    fake.calls.append(Call("response_url", {"_hook": "a", "text": "already acknowledged"}, 3.0))
    book.pump()
    assert not show.done()
    assert (await first).at == 3.0
    assert (await second).at == 2.0
    fake.calls.append(post("1.1", CARD, 4.0))
    book.pump()
    assert (await asyncio.wait_for(show, 1)).at == 4.0


def test_an_incident_card_posted_by_channel_name_is_found() -> None:
    """Lookout posts a card to `#incidents`; the fake files it under the channel's id."""
    fake: Any = SimpleNamespace(calls=[], history={})
    book = AnswerBook(fake)
    fake.calls.append(Call("chat.postMessage", {"channel": "#incidents", "text": CARD}, 1.0))
    fake.history["C0INCIDENTS"] = [{"type": "message", "text": CARD, "ts": "1.5"}]
    book.pump()
    assert book.incidents == {4: ("C0INCIDENTS", "1.5")}
