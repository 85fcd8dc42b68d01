"""Reply → the console's JSON blocks (the page renders them; see static/app.js)."""

from __future__ import annotations

import base64
from typing import Any

from skills.contract import (
    Actions,
    Block,
    Context,
    Fields,
    File,
    Form,
    Image,
    Reply,
    Table,
    Text,
)
from skills.fit import CONSOLE, fit


def render_block(block: Block) -> dict[str, Any]:
    if isinstance(block, Text):
        return {"type": "text", "text": block.text}
    if isinstance(block, Fields):
        return {
            "type": "fields",
            "fields": [{"label": label, "value": value} for label, value in block.fields],
        }
    if isinstance(block, Table):
        return {
            "type": "table",
            "columns": list(block.columns),
            "rows": [list(row) for row in block.rows],
        }
    if isinstance(block, Actions):
        return {
            "type": "actions",
            "buttons": [
                {"label": b.label, "command": b.command, "style": b.style} for b in block.buttons
            ],
        }
    if isinstance(block, Image):
        encoded = base64.b64encode(block.png).decode()
        return {"type": "image", "url": f"data:image/png;base64,{encoded}", "alt": block.alt}
    if isinstance(block, Context):
        return {"type": "context", "text": block.text}
    if isinstance(block, Form):
        return {
            "type": "form",
            "title": block.title,
            "command": block.command,
            "submit": block.submit,
            "inputs": [
                {
                    "name": field.name,
                    "label": field.label,
                    "hint": field.hint,
                    "choices": list(field.choices),
                    "value": field.value,
                    "optional": field.optional,
                }
                for field in block.inputs
            ],
        }
    if isinstance(block, File):
        encoded = base64.b64encode(block.content).decode()
        return {
            "type": "file",
            "name": block.name,
            "size": len(block.content),
            "url": f"data:{block.mime};base64,{encoded}",
        }
    raise TypeError(f"no console rendering for {type(block).__name__}")


def render_menus(block: Actions) -> list[dict[str, Any]]:
    """Each menu of `block` as a labelled row of buttons, one per choice, the current one
    marked primary. A people menu has no row: "Assign to me" and a typed `assign … @name`
    do that here."""
    return [
        {
            "type": "actions",
            "label": menu.label,
            "buttons": [
                {
                    "label": label,
                    "command": menu.command_for(value),
                    "style": "primary" if value == menu.current else "default",
                }
                for label, value in menu.choices
            ],
        }
        for menu in block.menus
        if menu.choices and not menu.people
    ]


def render_reply(reply: Reply) -> dict[str, Any]:
    """The console's JSON for a reply, within the same bound as Slack (`skills.fit`)."""
    reply = fit(reply, CONSOLE)
    blocks: list[dict[str, Any]] = []
    for block in reply.blocks:
        blocks.append(render_block(block))
        if isinstance(block, Actions):
            blocks += render_menus(block)
    return {
        "blocks": blocks,
        "color": reply.color,
        "text": reply.plain_text,
    }
