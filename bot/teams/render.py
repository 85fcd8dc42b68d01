"""Reply → Adaptive Card 1.5, the way Teams shows it. Pure: no I/O, unit-testable.

Every Reply becomes one card (a one-line answer too), so a message looks the same whether a
skill answered in a thread or the notifier posted it, and there is one renderer to test.

Times (`skills.moments`) become Adaptive Cards' `{{DATE(…, SHORT)}} {{TIME(…)}}` functions
(learn.microsoft.com/adaptive-cards/authoring-cards/text-features, "Date/Time formatting and
localization"), which the reader's device shows in its own zone; a time from `now`'s day
shows only `{{TIME(…)}}`. Those functions work in a TextBlock, so facts holding a time are laid
out as TextBlocks; TextRuns (text with characters marked as data) show the UTC text.
"""

from __future__ import annotations

import base64
import json
import re
import shlex
from typing import Any

from botbuilder.schema import Activity, ActivityTypes, Attachment

from skills.contract import (
    Actions,
    Block,
    Context,
    Fields,
    File,
    Form,
    Image,
    Menu,
    Reply,
    Table,
    Text,
    form_command,
)
from skills.fit import Bound, fit
from skills.markup import has_literals, protect, restore
from skills.moments import Moment, has_moments, in_utc, show_moments

CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
CARD_SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
CARD_VERSION = "1.5"
COMMAND_KEY = "lookout_command"
# A form's submit carries its command and field names; the card's inputs come back in the
# same `value`, keyed by their ids.
FORM_KEY = "lookout_form"
FIELDS_KEY = "lookout_fields"
INPUT_PREFIX = "lookout_field_"
# A menu's submit carries its command and the id of its choice set; the choice is added.
MENU_KEY = "lookout_menu"
MENU_INPUT_KEY = "lookout_menu_input"
MENU_INPUT_PREFIX = "lookout_menu_"

# Teams rejects messages over ~28 KB; an inline PNG larger than this is left out with a note.
MAX_IMAGE_BYTES = 20_000
MAX_TABLE_ROWS = 50
# The whole card, as JSON, stays under this (Teams' limit is about 28 KB per message).
MAX_CARD_BYTES = 24_000
TEAMS = Bound(block=2000, field=800, total=8000, table_rows=MAX_TABLE_ROWS)

BUTTON_STYLES = {"primary": "positive", "danger": "destructive", "default": "default"}
COLOR_STYLES = {
    "critical": "attention",
    "error": "attention",
    "warning": "warning",
    "info": "accent",
    "resolved": "good",
}

_CODE = re.compile(r"`([^`]+)`")
_INLINE = re.compile(
    r"\*\*(?P<bold>.+?)\*\*"
    r"|`(?P<code>[^`]+)`"
    r"|\[(?P<label>[^\]]+)\]\((?P<url>(?:https?://|mailto:)[^)\s]+)\)"
    r"|(?<![\w])_(?P<italic>[^_\n]+)_(?![\w])"
)


def card_time(moment: Moment) -> str:
    """`moment` as Adaptive Card date/time functions (RFC 3339 in UTC, no spaces inside)."""
    if moment.dated:
        return f"{{{{DATE({moment.iso}, SHORT)}}}} {{{{TIME({moment.iso})}}}}"
    return f"{{{{TIME({moment.iso})}}}}"


def card_markdown(text: str) -> str:
    """Our markdown subset → what a TextBlock renders: Adaptive Cards have bold, italic,
    links and "- " lists, but no inline code, so backticks are dropped (the text stays);
    times become DATE/TIME functions."""
    lines = []
    for line in text.split("\n"):
        if line.startswith("• "):
            line = "- " + line[2:]
        lines.append(_CODE.sub(r"\1", line))
    return show_moments("\n".join(lines), card_time)


def text_runs(line: str, **style: Any) -> list[dict[str, Any]]:
    """One line of our markdown as Adaptive Card TextRuns, which are never read as markdown:
    the way to show text from alerts exactly (Teams clients differ on backslash escapes)."""
    protected = protect(in_utc(line))
    runs: list[dict[str, Any]] = []

    def run(text: str, **extra: Any) -> None:
        if text:
            runs.append({"type": "TextRun", "text": restore(text), **style, **extra})

    position = 0
    for match in _INLINE.finditer(protected):
        run(protected[position : match.start()])
        if match["bold"] is not None:
            run(match["bold"], weight="Bolder")
        elif match["code"] is not None:
            run(match["code"], fontType="Monospace")
        elif match["label"] is not None:
            action = {"type": "Action.OpenUrl", "url": restore(match["url"])}
            run(match["label"], selectAction=action)
        else:
            run(match["italic"], italic=True)
        position = match.end()
    run(protected[position:])
    return runs


def text_block(text: str, **style: Any) -> dict[str, Any]:
    """A TextBlock for our markdown; text holding characters marked as data becomes a
    RichTextBlock of TextRuns per line, so those characters show as themselves."""
    if not has_literals(text):
        return {"type": "TextBlock", "text": card_markdown(text), "wrap": True, **style}
    size = {key: value for key, value in style.items() if key in ("size", "isSubtle", "weight")}
    lines = [
        {
            "type": "RichTextBlock",
            "inlines": text_runs(line, **size) or [{"type": "TextRun", "text": " "}],
            "spacing": "None",
        }
        for line in text.split("\n")
    ]
    return lines[0] if len(lines) == 1 else {"type": "Container", "items": lines}


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


def render_form(block: Form) -> list[dict[str, Any]]:
    """Input.Text / Input.ChoiceSet fields and one Action.Submit (Adaptive Cards 1.5)."""
    items: list[dict[str, Any]] = [text_block(f"**{block.title}**")]
    for field in block.inputs:
        element: dict[str, Any] = {
            "id": INPUT_PREFIX + field.name,
            "label": field.label,
            "isRequired": not field.optional,
            "errorMessage": f"{field.label} is needed",
        }
        if field.choices:
            element.update(
                type="Input.ChoiceSet",
                style="compact",
                choices=[{"title": choice, "value": choice} for choice in field.choices],
            )
        else:
            element.update(type="Input.Text", placeholder=field.hint)
        if field.value:
            element["value"] = field.value
        items.append(element)
        if field.hint and field.choices:
            items.append(text_block(field.hint, isSubtle=True, size="Small"))
    items.append(
        {
            "type": "ActionSet",
            "actions": [
                {
                    "type": "Action.Submit",
                    "title": block.submit,
                    "style": "positive",
                    "data": {FORM_KEY: block.command, FIELDS_KEY: list(block.names)},
                }
            ],
        }
    )
    return [{"type": "Container", "items": items}]


def render_menu(menu: Menu, index: int) -> list[dict[str, Any]]:
    """An Input.ChoiceSet and an Action.Submit that runs the menu's command with the choice.
    A people menu is left out: Teams' people picker needs Graph permissions, and a mention
    (`assign @name`) or the "Assign to me" button does the same."""
    if menu.people or not menu.choices:
        return []
    input_id = f"{MENU_INPUT_PREFIX}{index}"
    choices = [{"title": label, "value": value} for label, value in menu.choices]
    choice_set: dict[str, Any] = {
        "type": "Input.ChoiceSet",
        "id": input_id,
        "style": "compact",
        "label": menu.label,
        "choices": choices,
    }
    if menu.current in {value for _, value in menu.choices}:
        choice_set["value"] = menu.current
    submit = {
        "type": "Action.Submit",
        "title": f"Set {menu.label.lower()}",
        "data": {MENU_KEY: menu.command, MENU_INPUT_KEY: input_id},
    }
    return [
        {
            "type": "ColumnSet",
            "columns": [
                {"type": "Column", "width": "stretch", "items": [choice_set]},
                {
                    "type": "Column",
                    "width": "auto",
                    "verticalContentAlignment": "Bottom",
                    "items": [{"type": "ActionSet", "actions": [submit]}],
                },
            ],
        }
    ]


def render_block(block: Block) -> list[dict[str, Any]]:
    if isinstance(block, Text):
        return [text_block(block.text)]
    if isinstance(block, Fields):
        if any(
            has_literals(label) or has_literals(value) or has_moments(value)
            for label, value in block.fields
        ):
            return [_columns(block)]
        return [
            {
                "type": "FactSet",
                "facts": [{"title": label, "value": value} for label, value in block.fields],
            }
        ]
    if isinstance(block, Table):
        return render_table(block)
    if isinstance(block, Actions):
        rendered = [
            {
                "type": "ActionSet",
                "actions": [
                    render_button(button.label, button.command, button.style)
                    for button in block.buttons
                ],
            }
        ]
        for index, menu in enumerate(block.menus):
            rendered.extend(render_menu(menu, index))
        return rendered
    if isinstance(block, Image):
        if len(block.png) > MAX_IMAGE_BYTES:
            return [text_block(f"(image left out, too large for Teams: {block.alt})", size="Small")]
        encoded = base64.b64encode(block.png).decode()
        return [{"type": "Image", "url": f"data:image/png;base64,{encoded}", "altText": block.alt}]
    if isinstance(block, Context):
        return [text_block(block.text, isSubtle=True, size="Small")]
    if isinstance(block, Form):
        return render_form(block)
    if isinstance(block, File):
        size = f"{len(block.content) / 1024:.1f} KB"
        note = (
            f"📎 {block.name} ({size}): a bot cannot attach files in Teams channels; "
            "the lines above are its beginning, and Slack or the console show it whole."
        )
        return [
            {"type": "TextBlock", "text": note, "wrap": True, "isSubtle": True, "size": "Small"}
        ]
    raise TypeError(f"no Teams rendering for {type(block).__name__}")


def _columns(block: Fields) -> dict[str, Any]:
    """Fields as label/value rows of TextRuns (a FactSet's values would be read as markdown)."""
    rows = [
        {
            "type": "ColumnSet",
            "spacing": "None",
            "columns": [
                {"type": "Column", "width": "auto", "items": [text_block(label, weight="Bolder")]},
                {"type": "Column", "width": "stretch", "items": [text_block(value)]},
            ],
        }
        for label, value in block.fields
    ]
    return {"type": "Container", "items": rows}


def render_card(reply: Reply) -> dict[str, Any]:
    """The reply as one Adaptive Card of at most `MAX_CARD_BYTES` of JSON: shortened to the
    Teams bound, and further, halving the bound, until the card fits."""
    bound = TEAMS
    card = _card(fit(reply, bound))
    while len(json.dumps(card)) > MAX_CARD_BYTES and bound.total > 500:
        bound = Bound(
            block=max(bound.block // 2, 200),
            field=max(bound.field // 2, 80),
            total=bound.total // 2,
            table_rows=max(bound.table_rows // 2, 5),
            images=False,
        )
        card = _card(fit(reply, bound))
    return card


def _card(reply: Reply) -> dict[str, Any]:
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
    invoke's `value`, or in `value.action.data` for Action.Execute (adaptiveCard/action). A
    form's submit carries its command and field names, with the fields' values beside them."""
    if not isinstance(value, dict):
        return None
    data: dict[str, Any] = value
    action = value.get("action")
    own = (COMMAND_KEY, FORM_KEY, MENU_KEY)
    if not any(key in value for key in own) and isinstance(action, dict):
        inner = action.get("data")
        data = inner if isinstance(inner, dict) else {}
    menu = data.get(MENU_KEY)
    if isinstance(menu, str) and menu.strip():
        chosen = data.get(str(data.get(MENU_INPUT_KEY) or ""))
        if not isinstance(chosen, str) or not chosen.strip():
            return None
        return shlex.join([*shlex.split(menu.strip()), chosen.strip()])
    form = data.get(FORM_KEY)
    names = data.get(FIELDS_KEY)
    if isinstance(form, str) and form.strip() and isinstance(names, list):
        fields = [str(name) for name in names]
        filled = {name: data.get(INPUT_PREFIX + name) for name in fields}
        return form_command(form.strip(), fields, filled)
    command = data.get(COMMAND_KEY)
    return command.strip() if isinstance(command, str) and command.strip() else None
