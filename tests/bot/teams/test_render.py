"""Reply → Adaptive Card 1.5: every block kind, buttons carrying their command, limits."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from bot.teams.render import (
    CARD_CONTENT_TYPE,
    MAX_IMAGE_BYTES,
    MAX_TABLE_ROWS,
    card_markdown,
    command_from_value,
    render_activity,
    render_card,
)
from skills.contract import (
    Actions,
    Button,
    Context,
    Fields,
    File,
    Image,
    Reply,
    Table,
    Text,
)
from tests.bot.teams.conftest import recorded

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


def elements(card: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == kind:
                found.append(node)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(card["body"])
    return found


def test_a_card_is_adaptive_card_1_5_with_a_fallback_text() -> None:
    card = render_card(Reply.text("**INC-1** is _open_"))
    assert card["type"] == "AdaptiveCard" and card["version"] == "1.5"
    assert card["$schema"] == "http://adaptivecards.io/schemas/adaptive-card.json"
    assert card["fallbackText"] == "**INC-1** is _open_"
    assert card["body"] == [{"type": "TextBlock", "text": "**INC-1** is _open_", "wrap": True}]


def test_markdown_subset_becomes_what_a_textblock_renders() -> None:
    text = "**bold** _italic_ `ack INC-1` [runbook](https://example.org/r)\n• one\n• two"
    assert card_markdown(text) == (
        "**bold** _italic_ ack INC-1 [runbook](https://example.org/r)\n- one\n- two"
    )


def test_fields_become_a_factset_and_context_a_subtle_line() -> None:
    card = render_card(
        Reply(
            blocks=[Fields((("Status", "open"), ("Severity", "critical"))), Context("opened 03:00")]
        )
    )
    assert card["body"][0] == {
        "type": "FactSet",
        "facts": [{"title": "Status", "value": "open"}, {"title": "Severity", "value": "critical"}],
    }
    assert card["body"][1]["isSubtle"] is True and card["body"][1]["text"] == "opened 03:00"


def test_tables_have_a_header_row_and_are_capped() -> None:
    rows = tuple((f"INC-{i}", "open") for i in range(MAX_TABLE_ROWS + 5))
    card = render_card(Reply(blocks=[Table(columns=("Incident", "Status"), rows=rows)]))
    (table,) = elements(card, "Table")
    assert table["firstRowAsHeaders"] is True and len(table["columns"]) == 2
    header = table["rows"][0]["cells"]
    assert [cell["items"][0]["text"] for cell in header] == ["Incident", "Status"]
    assert len(table["rows"]) == MAX_TABLE_ROWS + 1
    assert card["body"][-1]["text"] == "…and 5 more rows"


def test_buttons_are_action_submit_carrying_the_command() -> None:
    actions = Actions(
        (
            Button("Acknowledge", "ack", ("INC-1",), style="primary"),
            Button("Resolve", "resolve", ("INC-1",), style="danger"),
            Button("Details", "show", ("INC 1",)),
        )
    )
    (action_set,) = render_card(Reply(blocks=[actions]))["body"]
    assert action_set["type"] == "ActionSet"
    assert action_set["actions"] == [
        {
            "type": "Action.Submit",
            "title": "Acknowledge",
            "style": "positive",
            "data": {"lookout_command": "ack INC-1"},
        },
        {
            "type": "Action.Submit",
            "title": "Resolve",
            "style": "destructive",
            "data": {"lookout_command": "resolve INC-1"},
        },
        {
            "type": "Action.Submit",
            "title": "Details",
            "style": "default",
            "data": {"lookout_command": "show 'INC 1'"},
        },
    ]


def test_images_are_inline_pngs_unless_too_large() -> None:
    small = render_card(Reply(blocks=[Image(PNG, "latency chart")]))["body"][0]
    assert small["type"] == "Image" and small["altText"] == "latency chart"
    assert base64.b64decode(small["url"].removeprefix("data:image/png;base64,")) == PNG
    large = render_card(Reply(blocks=[Image(b"\x89PNG" + bytes(MAX_IMAGE_BYTES), "big")]))
    assert large["body"][0]["type"] == "TextBlock" and "big" in large["body"][0]["text"]


def test_a_file_is_named_with_its_size_since_a_bot_cannot_attach_one_in_a_channel() -> None:
    output = "".join(f"row {n}\n" for n in range(1, 301)).encode()
    card = render_card(Reply(blocks=[Text("R-1, step 2"), File("R-1-2.txt", output)]))
    [heading, note] = card["body"]
    assert heading["text"] == "R-1, step 2"
    assert note["type"] == "TextBlock" and note["isSubtle"] is True
    assert note["text"].startswith(f"📎 R-1-2.txt ({len(output) / 1024:.1f} KB): ")
    assert "Slack or the console show it whole" in note["text"]


@pytest.mark.parametrize(
    ("color", "style"), [("critical", "attention"), ("warning", "warning"), ("resolved", "good")]
)
def test_severity_colours_the_first_element(color: str, style: str) -> None:
    card = render_card(Reply(blocks=[Text("head"), Text("body")], color=color))
    assert card["body"][0]["type"] == "Container" and card["body"][0]["style"] == style
    assert card["body"][0]["items"][0]["text"] == "head"
    assert card["body"][1]["text"] == "body"


def test_an_incident_card_becomes_one_attachment_with_a_summary() -> None:
    reply = Reply(
        blocks=[
            Text("🔴 **INC-7 · checkout: HighErrorRate**"),
            Fields((("Status", "Triggered — not acknowledged"),)),
            Actions(
                (Button("Acknowledge", "ack", ("INC-7",)), Button("Details", "show", ("INC-7",)))
            ),
        ],
        visibility="channel",
        incident_id=7,
        color="critical",
    )
    activity = render_activity(reply)
    assert activity.type == "message"
    (attachment,) = activity.attachments
    assert attachment.content_type == CARD_CONTENT_TYPE
    card = attachment.content
    commands = [a["data"]["lookout_command"] for a in elements(card, "ActionSet")[0]["actions"]]
    assert commands == ["ack INC-7", "show INC-7"]
    assert activity.summary == "🔴 **INC-7 · checkout: HighErrorRate**"


def test_commands_come_back_from_submits_and_invokes() -> None:
    assert command_from_value({"lookout_command": " ack INC-1 "}) == "ack INC-1"
    execute = {"action": {"type": "Action.Execute", "data": {"lookout_command": "show INC-2"}}}
    assert command_from_value(execute) == "show INC-2"
    # fixtures 02/03: submits from somebody else's cards carry no Lookout command
    for name in (
        "02_message_with_value_card_submit.json",
        "03_message_with_value_card_submit_b.json",
    ):
        assert command_from_value(recorded(name)["body"]["value"]) is None
    assert command_from_value("ack INC-1") is None
