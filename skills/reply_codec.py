"""A `Reply` as JSON and back, for answers stored until they are posted (scheduled reports).
PNG images travel as base64."""

from __future__ import annotations

import base64
from typing import Any

from skills.contract import (
    Actions,
    Block,
    Button,
    Context,
    Fields,
    Image,
    Reply,
    Table,
    Text,
)


def encode(reply: Reply) -> dict[str, Any]:
    return {
        "blocks": [_block(block) for block in reply.blocks],
        "visibility": reply.visibility,
        "incident_id": reply.incident_id,
        "color": reply.color,
    }


def decode(data: dict[str, Any]) -> Reply:
    """Raises KeyError or ValueError for data `encode` did not write."""
    return Reply(
        blocks=[_unblock(item) for item in data["blocks"]],
        visibility=data.get("visibility", "channel"),
        incident_id=data.get("incident_id"),
        color=data.get("color"),
    )


def _block(block: Block) -> dict[str, Any]:
    if isinstance(block, Text):
        return {"type": "text", "text": block.text}
    if isinstance(block, Context):
        return {"type": "context", "text": block.text}
    if isinstance(block, Fields):
        return {"type": "fields", "fields": [list(pair) for pair in block.fields]}
    if isinstance(block, Table):
        return {
            "type": "table",
            "columns": list(block.columns),
            "rows": [list(r) for r in block.rows],
        }
    if isinstance(block, Image):
        return {"type": "image", "png": base64.b64encode(block.png).decode(), "alt": block.alt}
    if not isinstance(block, Actions):
        # Forms and files are answers to one person, never a scheduled report: not stored.
        return {"type": "context", "text": "(a form or file that a stored report cannot hold)"}
    return {
        "type": "actions",
        "buttons": [
            {"label": b.label, "skill": b.skill, "args": list(b.args), "style": b.style}
            for b in block.buttons
        ],
    }


def _unblock(item: dict[str, Any]) -> Block:
    kind = item["type"]
    if kind == "text":
        return Text(item["text"])
    if kind == "context":
        return Context(item["text"])
    if kind == "fields":
        return Fields(tuple((str(a), str(b)) for a, b in item["fields"]))
    if kind == "table":
        return Table(tuple(item["columns"]), tuple(tuple(row) for row in item["rows"]))
    if kind == "image":
        return Image(base64.b64decode(item["png"]), item["alt"])
    if kind == "actions":
        return Actions(
            tuple(
                Button(b["label"], b["skill"], tuple(b["args"]), b.get("style", "default"))
                for b in item["buttons"]
            )
        )
    raise ValueError(f"unknown block type {kind!r}")
