"""Reading recorded Teams activities: mention stripping, who, where, references to keep."""

from __future__ import annotations

from typing import Any

from botbuilder.schema import Activity

from bot.teams.activities import (
    actor,
    captured_references,
    command_text,
    conversation_key,
    request_id,
    thread_root,
)
from tests.bot.teams.conftest import CHANNEL, recorded


def _activity(name: str, **changes: Any) -> Any:
    return Activity().deserialize({**recorded(name)["body"], **changes})


def test_the_recorded_mention_is_stripped() -> None:
    # fixture 01: "<at>My Combined</at>1\n" with a mention entity for the bot
    assert command_text(_activity("01_channel_message_at_mention.json")) == "1"
    assert (
        command_text(
            _activity("01_channel_message_at_mention.json", text="<at>My Combined</at> ack INC-3\n")
        )
        == "ack INC-3"
    )


def test_only_the_bot_mention_is_removed_and_plain_text_is_kept() -> None:
    body = recorded("01_channel_message_at_mention.json")["body"]
    text = "<at>My Combined</at> assign INC-3 <at>Ana Lima</at> &amp; co"
    entities = [
        *body["entities"],
        {
            "type": "mention",
            "text": "<at>Ana Lima</at>",
            "mentioned": {"id": "29:ana", "name": "Ana Lima"},
        },
    ]
    activity = _activity("01_channel_message_at_mention.json", text=text, entities=entities)
    assert command_text(activity) == "assign INC-3 Ana Lima & co"
    assert command_text(_activity("08_personal_message.json")) == "file"
    assert command_text(_activity("09_msdocs_personal_message_example.json")) == (
        "Hello Teams TestBot.Sending bold-italic rich text"
    )


def test_references_are_captured_by_channel_id_and_team() -> None:
    update = _activity("07_conversationUpdate_channel.json")
    captured = {ref.key: ref for ref in captured_references(update)}
    assert set(captured) == {CHANNEL, f"team:{CHANNEL}"}
    assert captured[CHANNEL].name == "General"  # the General channel has the team's id
    assert captured[f"team:{CHANNEL}"].name == "DaveTeams TEST"
    reference = captured[CHANNEL].reference
    assert reference["conversation"]["id"] == CHANNEL and reference.get("activityId") is None
    assert reference["serviceUrl"] == "https://smba.trafficmanager.net/amer/"
    assert reference["bot"]["id"] == "28:eac5e5c6-ab14-4f50-80cb-49213fe51b1a"

    message = _activity("01_channel_message_at_mention.json")
    assert conversation_key(message) == CHANNEL  # without ";messageid=…"
    assert {ref.key for ref in captured_references(message)} == {CHANNEL, f"team:{CHANNEL}"}

    personal = _activity("08_personal_message.json")
    (chat,) = captured_references(personal)
    assert chat.key.startswith("a:1VF4K2uXl") and chat.reference["conversation"]["id"] == chat.key


def test_the_actor_is_the_aad_object_id_and_the_thread_its_root_post() -> None:
    message = _activity("01_channel_message_at_mention.json")
    who = actor(message)
    assert (who.platform, who.user_id, who.display_name) == (
        "teams",
        "6b703ce3-6d14-4fe6-b90c-dc5f03657ae4",
        "Dave Taniguchi",
    )
    assert thread_root(message) == "1571537152320"
    assert thread_root(_activity("08_personal_message.json")) is None
    assert request_id(message) == f"1571537152320@{CHANNEL};messageid=1571537152320"
