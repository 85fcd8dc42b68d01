"""Reply → Adaptive Card 1.5, the way Teams shows it. Pure: no I/O, unit-testable.

Every Reply becomes one card (a one-line answer too), so a message looks the same whether a
skill answered in a thread or the notifier posted it, and there is one renderer to test.
"""

from __future__ import annotations

import base64
import re
from typing import Any

from botbuilder.schema import Activity, ActivityTypes, Attachment

from skills.contract import Actions, Block, Context, Fields, Image, Reply, Table, Text

CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
CARD_SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
CARD_VERSION = "1.5"
COMMAND_KEY = "lookout_command"

# Teams rejects messages over ~28 KB; an inline PNG larger than this is left out with a note.
MAX_IMAGE_BYTES = 20_000
MAX_TABLE_ROWS = 50

BUTTON_STYLES = {"primary": "positive", "danger": "destructive", "default": "default"}
COLOR_STYLES = {
    "critical": "attention",
    "error": "attention",
    "warning": "warning",
    "info": "accent",
    "resolved": "good",
}

_CODE = re.compile(r"`([^`]+)`")


def card_markdown(text: str) -> str:
    """Our markdown subset → what a TextBlock renders: Adaptive Cards have bold, italic,
    links and "- " lists, but no inline code, so backticks are dropped (the text stays)."""
    lines = []
    for line in text.split("\n"):
        if line.startswith("• "):
            line = "- " + line[2:]
        lines.append(_CODE.sub(r"\1", line))
    return "\n".join(lines)


def text_block(text: str, **style: Any) -> dict[str, Any]:
    return {"type": "TextBlock", "text": card_markdown(text), "wrap": True, **style}


def render_table(table: Table) -> list[dict[str, Any]]:
    def row(cells: tuple[str, ...], header: bool = False) -> dict[str, Any]:
        style = {"weight": "Bolder"} if header else {}
        return {
            "type": "TableRow",
            "cells": [
                {"type": "TableCell", "items": [text_block(cell, **style)]} for cell in cells
            ],
        }

    shown = table.rows[:MAX_TABLE_ROWS]
    elements: list[dict[str, Any]] = [
        {
            "type": "Table",
            "columns": [{"width": 1} for _ in table.columns],
            "firstRowAsHeaders": True,
            "showGridLines": True,
            "rows": [row(table.columns, header=True), *(row(cells) for cells in shown)],
        }
    ]
    if len(table.rows) > len(shown):
        hidden = len(table.rows) - len(shown)
        elements.append(text_block(f"…and {hidden} more rows", isSubtle=True, size="Small"))
    return elements


def render_button(label: str, command: str, style: str) -> dict[str, Any]:
    # A click comes back as a message activity whose `value` is this data (or as an invoke);
    # either way the adapter runs `command`, exactly as if it had been typed.
    return {
        "type": "Action.Submit",
        "title": label,
        "style": BUTTON_STYLES.get(style, "default"),
        "data": {COMMAND_KEY: command},
    }


def render_block(block: Block) -> list[dict[str, Any]]:
    if isinstance(block, Text):
        return [text_block(block.text)]
    if isinstance(block, Fields):
        return [
            {
                "type": "FactSet",
                "facts": [{"title": label, "value": value} for label, value in block.fields],
            }
        ]
    if isinstance(block, Table):
        return render_table(block)
    if isinstance(block, Actions):
        return [
            {
                "type": "ActionSet",
                "actions": [
                    render_button(button.label, button.command, button.style)
                    for button in block.buttons
                ],
            }
        ]
    if isinstance(block, Image):
        if len(block.png) > MAX_IMAGE_BYTES:
            return [text_block(f"(image left out, too large for Teams: {block.alt})", size="Small")]
        encoded = base64.b64encode(block.png).decode()
        return [{"type": "Image", "url": f"data:image/png;base64,{encoded}", "altText": block.alt}]
    if isinstance(block, Context):
        return [text_block(block.text, isSubtle=True, size="Small")]
    raise TypeError(f"no Teams rendering for {type(block).__name__}")


def render_card(reply: Reply) -> dict[str, Any]:
    body: list[dict[str, Any]] = []
    for block in reply.blocks:
        body.extend(render_block(block))
    style = COLOR_STYLES.get(reply.color or "")
    if style and body:
        # A coloured band behind the first element shows severity at a glance.
        body[0] = {"type": "Container", "style": style, "bleed": True, "items": [body[0]]}
    return {
        "type": "AdaptiveCard",
        "$schema": CARD_SCHEMA,
        "version": CARD_VERSION,
        "body": body,
        "fallbackText": reply.plain_text,
        "msteams": {"width": "Full"},
    }


def render_activity(reply: Reply) -> Activity:
    """A message activity carrying the card; `summary` is what notifications preview."""
    summary = reply.plain_text.split("\n", 1)[0][:200]
    return Activity(
        type=ActivityTypes.message,
        summary=summary or None,
        attachments=[Attachment(content_type=CARD_CONTENT_TYPE, content=render_card(reply))],
    )


def command_from_value(value: Any) -> str | None:
    """The command a card button carries: `{"lookout_command": …}` in a submit's `value`, in an
    invoke's `value`, or in `value.action.data` for Action.Execute (adaptiveCard/action)."""
    if not isinstance(value, dict):
        return None
    command = value.get(COMMAND_KEY)
    if command is None:
        action = value.get("action")
        if isinstance(action, dict) and isinstance(action.get("data"), dict):
            command = action["data"].get(COMMAND_KEY)
    return command.strip() if isinstance(command, str) and command.strip() else None
