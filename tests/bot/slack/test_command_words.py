"""People's ordinary text through the real Bolt stack with signed requests: slash commands
and mentions keep text as typed, a number in an incident's thread is text, and refusals and
typos are answered in plain words only to the person."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.bot.slack.conftest import SlackWorld, slash_command
from tests.bot.slack.test_slack_inputs import incident, ingest, mention, notes, send_event
from tests.bot.test_webhook import storm_payload


def card_ts(world: SlackWorld, incident_id: int) -> str:
    """The ts of the incident's card, as the fake Slack keeps it."""
    for messages in world.fake.history.values():
        for message in messages:
            if not message.get("thread_ts") and f"INC-{incident_id}" in (message["text"] or ""):
                return str(message["ts"])
    raise AssertionError(f"no card for INC-{incident_id}")


def answers_in(world: SlackWorld, ts: str) -> list[Any]:
    return [
        call
        for call in world.fake.calls_to("chat.postMessage")
        if call.params.get("thread_ts") == ts
    ]


def answered(world: SlackWorld, count: int) -> Callable[[], bool]:
    """Whether INC-1's thread holds `count` answers."""
    return lambda: len(answers_in(world, card_ts(world, 1))) == count


async def test_slash_commands_and_mentions_keep_text_as_typed(slack: SlackWorld) -> None:
    await ingest(slack, storm_payload(1, "checkout"))
    typed = [
        "it's the db",
        "don't restart it, it's warming up",
        r"dump copied to C:\temp\x",
        'said "roll back" then waited',
    ]
    for number, text in enumerate(typed):
        body = slash_command(
            f"note INC-1 {text}",
            trigger=f"t-words-{number}",
            response_url=slack.fake.response_url(f"words-{number}"),
        )
        response = await slack.send(body)
        assert response.status_code == 200
        await slack.fake.wait_until(answered(slack, number + 1))
    # A mention, with Slack's escaping, an emoji and new lines.
    await send_event(
        slack,
        mention(
            '<@UBOT> note INC-1 🔥 p99 &gt; 2s\nit\'s the pool, not "the db"\n\n✅',
            event_id="EvWords1",
            ts="1700000999.31",
            thread_ts=None,
        ),
    )
    await slack.fake.wait_until(lambda: len(answers_in(slack, card_ts(slack, 1))) == 5)
    assert await notes(slack) == [*typed, '🔥 p99 > 2s\nit\'s the pool, not "the db"\n\n✅']
    assert not slack.fake.calls_to("response_url")  # no "unclosed quote" anywhere


async def test_a_number_in_an_incidents_thread_is_text(slack: SlackWorld) -> None:
    for service in ("checkout", "search", "billing"):
        await ingest(slack, storm_payload(1, service))
    third, second = card_ts(slack, 3), card_ts(slack, 2)
    await send_event(
        slack,
        mention(
            "<@UBOT> resolve 2 replicas restarted",
            event_id="EvWords2",
            ts="1700000999.32",
            thread_ts=third,
        ),
    )
    await slack.fake.wait_until(lambda: len(answers_in(slack, third)) >= 1)
    assert "INC-3 resolved" in answers_in(slack, third)[-1].params["text"]
    assert (await incident(slack, 3)).status == "resolved"
    assert (await incident(slack, 2)).status == "triggered"

    await send_event(
        slack,
        mention(
            "<@UBOT> note 1 pods restarted on node-3",
            event_id="EvWords3",
            ts="1700000999.33",
            thread_ts=second,
        ),
    )
    await slack.fake.wait_until(lambda: len(answers_in(slack, second)) >= 1)
    assert "Noted in INC-2's timeline" in answers_in(slack, second)[-1].params["text"]
    assert await notes(slack, 2) == ["1 pods restarted on node-3"]
    assert await notes(slack, 1) == []

    await send_event(
        slack,
        mention(
            "<@UBOT> note #1 seen from INC-2's side",
            event_id="EvWords4",
            ts="1700000999.34",
            thread_ts=second,
        ),
    )
    first = card_ts(slack, 1)
    await slack.fake.wait_until(lambda: len(answers_in(slack, first)) >= 1)
    assert "Noted in INC-1's timeline" in answers_in(slack, first)[-1].params["text"]
    assert await notes(slack, 1) == ["seen from INC-2's side"]

    await send_event(
        slack,
        mention(
            "<@UBOT> resolve restarted the exporter; throttling gone",
            event_id="EvWords5",
            ts="1700000999.35",
            thread_ts=second,
        ),
    )
    # INC-2's thread now holds: the note's answer, the pointer to INC-1's thread, this answer.
    await slack.fake.wait_until(lambda: len(answers_in(slack, second)) >= 3)
    texts = [call.params["text"] for call in answers_in(slack, second)]
    assert "Answered in" in texts[1] and "INC-1's thread" in texts[1]
    assert "INC-2 resolved" in texts[-1]
    assert "restarted the exporter; throttling gone" in texts[-1]
    assert (await incident(slack, 1)).status == "triggered"


async def test_refusals_and_typos_are_plain_sentences_to_the_person(slack: SlackWorld) -> None:
    await ingest(slack, storm_payload(1, "checkout"))
    for number, text in enumerate(
        ("status INC-1 investigating", "status INC-1 mitgated", "similar INC-1 --limit 0")
    ):
        body = slash_command(
            text, trigger=f"t-rule-{number}", response_url=slack.fake.response_url(f"r{number}")
        )
        assert (await slack.send(body)).status_code == 200
    hooks = await slack.fake.wait_for("response_url", 3)
    said = sorted(hook.params["text"] for hook in hooks)
    assert any(s.startswith("INC-1 is triggered; it cannot become investigating") for s in said)
    assert any("Did you mean `mitigated`?" in s for s in said)
    assert any("`--limit` takes a whole number from 1 to 10." in s for s in said)
    assert not any("Input should" in s for s in said)
    assert (await incident(slack, 1)).status == "triggered"
