"""Reply → Block Kit, within Slack's limits, so a long answer is cut short — never an API error.

Limits (api.slack.com/reference/block-kit): 50 blocks per message, 3,000 characters per
section text, 10 fields per section (2,000 characters each), 25 elements per actions block,
75 characters per button label, 2,000 per button value, 255 per action_id, and a fallback
`text` kept under 4,000 characters.

Times (`skills.moments`) become Slack's date markup, `<!date^unix^{date_short_pretty} {time}|…>`
(api.slack.com/reference/surfaces/formatting, "Date formatting"), which every reader sees in
their own time zone, with "today"/"yesterday" or the date; the fallback is the UTC text.
"""

from __future__ import annotations

import json
import re
from typing import Any

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
)
from skills.fit import SLACK, fit
from skills.markup import protect, restore
from skills.moments import Moment, has_moments, in_utc, show_moments

MAX_BLOCKS = 50
MAX_SECTION = 3000
MAX_FIELDS = 10
MAX_FIELD = 2000
MAX_BUTTONS = 25
MAX_LABEL = 75
MAX_VALUE = 2000
MAX_FALLBACK = 3900
ACTION_PREFIX = "lookout"
# A form rides on a button (`lookout-form:<n>`) whose click opens a modal (views.open with the
# click's trigger_id); the modal's submission comes back as a view_submission of this id.
FORM_ACTION_PREFIX = "lookout-form"
# A people picker (users_select) carries no value: its action_id carries the command.
PEOPLE_ACTION_PREFIX = f"{ACTION_PREFIX}:people:"
FORM_CALLBACK = "lookout-form"
MAX_MODAL_TITLE = 24
MAX_MODAL_BUTTON = 24
MAX_OPTION_TEXT = 75
MAX_OPTION_VALUE = 150
MAX_OPTIONS = 100
MAX_METADATA = 3000
MONOSPACE_WIDTH = 100  # wider tables are listed row by row instead

_BOLD = re.compile(r"\*\*(.+?)\*\*")
_LINK = re.compile(r"\[([^\]]+)\]\(((?:https?://|mailto:)[^)\s]+)\)")


def _literal(char: str) -> str:
    """A markup character that is data. Slack has no escape, but it only formats with `*`,
    `_` and `~` at a word boundary: a zero-width space before one makes it part of a word.
    Inline code has no such rule, so a backtick becomes the look-alike U+02CB."""
    if char in "*_~":
        return "\u200b" + char
    return "ˋ" if char == "`" else char


def slack_date(moment: Moment) -> str:
    """`moment` as Slack's date markup: "today 3:53 PM", "Nov 21, 2026 3:53:43 PM" in the
    reader's zone and locale; the UTC text where a client cannot format it."""
    clock = "{time_secs}" if moment.seconds else "{time}"
    return f"<!date^{moment.epoch}^{{date_short_pretty}} {clock}|{moment.utc_text()}>"


def mrkdwn(text: str) -> str:
    """Lookout's markdown subset in Slack's mrkdwn: escape &, <, >; **b** → *b*; links;
    characters marked as data (`skills.markup.literal`) shown as themselves; times as
    Slack's date markup."""
    protected = protect(text)
    escaped = protected.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    escaped = _BOLD.sub(r"*\1*", escaped)
    escaped = _LINK.sub(lambda m: f"<{m[2]}|{m[1]}>", escaped)
    return restore(show_moments(escaped, slack_date), _literal)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _split(text: str, limit: int = MAX_SECTION) -> list[str]:
    """Split at line ends so each part fits a section; a single huge line is cut."""
    parts: list[str] = []
    current = ""
    for line in text.split("\n"):
        line = _cut(line, limit)
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > limit:
            parts.append(current)
            current = line
        else:
            current = candidate
    parts.append(current)
    return [part for part in parts if part] or [""]


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text or " "}}


def _table(block: Table) -> list[dict[str, Any]]:
    """Narrow tables as a monospace code block; wide ones as one line per row (a code block
    would wrap or cut them). Rows that do not fit become "…and N more rows"."""
    markdown = [[str(cell) for cell in row] for row in block.rows]
    rows = [[_monospace(cell) for cell in row] for row in markdown]
    # Slack formats no date inside a code block: a table with times is listed row by row.
    monospace = not any(has_moments(cell) for row in markdown for cell in row)
    widths = [
        max([len(block.columns[i]), *(len(row[i]) for row in rows)])
        for i in range(len(block.columns))
    ]
    if monospace and sum(widths) + 2 * (len(widths) - 1) <= MONOSPACE_WIDTH:
        header = ["  ".join(c.ljust(w) for c, w in zip(block.columns, widths, strict=True))]
        header.append("  ".join("─" * w for w in widths))
        lines = [
            "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
        ]
        shown = _fit(header, lines, MAX_SECTION - 6)
        sections = [_section("```" + "\n".join([*header, *lines[:shown]]) + "```")]
    else:
        lines = [
            f"*{mrkdwn(row[0])}*  " + "  ·  ".join(mrkdwn(cell) for cell in row[1:] if cell)
            for row in markdown
        ]
        shown = _fit([], lines, MAX_SECTION * 8)
        sections = [_context("  ·  ".join(mrkdwn(column) for column in block.columns))]
        sections += [_section(part) for part in _split("\n".join(lines[:shown]))]
    hidden = len(rows) - shown
    if hidden:
        sections.append(_context(f"…and {hidden} more row{'s' if hidden > 1 else ''}"))
    return sections


def _monospace(cell: str) -> str:
    """A table cell inside a code block, where Slack formats nothing: marks dropped, bold
    markers dropped, a backtick (which would end the block) shown as its look-alike."""
    text = restore(
        _BOLD.sub(r"\1", protect(in_utc(cell))), lambda char: "ˋ" if char == "`" else char
    )
    return text.replace("`", "ˋ").replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _fit(header: list[str], lines: list[str], budget: int) -> int:
    """How many of `lines` fit in `budget` characters after `header`."""
    used = sum(len(line) + 1 for line in header)
    for count, line in enumerate(lines):
        used += len(line) + 1
        if used > budget:
            return count
    return len(lines)


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": _cut(text, MAX_SECTION)}]}


def button_value(command: str) -> str:
    return json.dumps({"command": command})


def _actions(block: Actions) -> list[dict[str, Any]]:
    elements = []
    for index, button in enumerate(block.buttons[:MAX_BUTTONS]):
        value = button_value(button.command)
        if len(value) > MAX_VALUE:
            continue  # a command this long cannot ride on a button; the typed form still works
        element: dict[str, Any] = {
            "type": "button",
            "text": {"type": "plain_text", "text": _cut(button.label, MAX_LABEL), "emoji": True},
            "action_id": f"{ACTION_PREFIX}:{index}:{button.skill}"[:255],
            "value": value,
        }
        if button.style != "default":
            element["style"] = button.style
        elements.append(element)
    for index, menu in enumerate(block.menus):
        select = _menu(menu, index)
        if select is not None and len(elements) < MAX_BUTTONS:
            elements.append(select)
    return [{"type": "actions", "elements": elements}] if elements else []


def _menu(menu: Menu, index: int) -> dict[str, Any] | None:
    """A people menu is a users_select whose action_id carries the command (the choice is
    a user id, added as `<@U…>`); any other a static_select whose options carry theirs."""
    placeholder = {"type": "plain_text", "text": _cut(menu.label, MAX_OPTION_TEXT), "emoji": True}
    if menu.people:
        action_id = f"{PEOPLE_ACTION_PREFIX}{menu.command}"
        if len(action_id) > 255:
            return None
        return {"type": "users_select", "action_id": action_id, "placeholder": placeholder}
    options = []
    initial = None
    for label, value in menu.choices[:MAX_OPTIONS]:
        carried = button_value(menu.command_for(value))
        if len(carried) > MAX_OPTION_VALUE:
            continue
        option = {"text": {"type": "plain_text", "text": _cut(label, MAX_OPTION_TEXT)}}
        option["value"] = carried  # type: ignore[assignment]
        options.append(option)
        if value == menu.current:
            initial = option
    if not options:
        return None
    element: dict[str, Any] = {
        "type": "static_select",
        "action_id": f"{ACTION_PREFIX}:menu{index}:{menu.skill}"[:255],
        "placeholder": placeholder,
        "options": options,
    }
    if initial is not None:
        element["initial_option"] = initial
    return element


def action_command(action: dict[str, Any]) -> str | None:
    """The command a clicked button or a chosen menu option carries (block_actions'
    `actions[]`): a button's value, a static_select option's value, or a users_select's
    command with the chosen person added as Slack's mention markup."""
    if action.get("type") == "users_select":
        action_id = str(action.get("action_id") or "")
        user = action.get("selected_user")
        if not action_id.startswith(PEOPLE_ACTION_PREFIX) or not isinstance(user, str):
            return None
        return f"{action_id.removeprefix(PEOPLE_ACTION_PREFIX)} <@{user}>"
    value = action.get("value")
    if action.get("type") == "static_select":
        value = (action.get("selected_option") or {}).get("value")
    try:
        command = json.loads(str(value))["command"]
    except (KeyError, TypeError, ValueError):
        return None
    return command if isinstance(command, str) and command.strip() else None


def form_spec(block: Form) -> dict[str, Any]:
    """What a form button carries, and what its modal is built from."""
    return {
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


def _form(block: Form) -> list[dict[str, Any]]:
    value = json.dumps({"form": form_spec(block)})
    if len(value) > MAX_VALUE:  # too big to ride on a button; typing the command still works
        names = " ".join(f"{field.name}=…" for field in block.inputs)
        return [_context(mrkdwn(f"Type `/lookout {block.command} {names}`"))]
    button = {
        "type": "button",
        "text": {
            "type": "plain_text",
            "text": _cut(f"📝 {block.title}…", MAX_LABEL),
            "emoji": True,
        },
        "action_id": f"{FORM_ACTION_PREFIX}:{block.skill}"[:255],
        "value": value,
        "style": "primary",
    }
    return [{"type": "actions", "elements": [button]}]


def form_modal(spec: dict[str, Any], metadata: str) -> dict[str, Any]:
    """The modal of a form (api.slack.com/reference/surfaces/views): one input block per
    field, a select where the field has choices. `metadata` comes back with the submission."""
    blocks: list[dict[str, Any]] = []
    for field in spec.get("inputs", [])[:MAX_BLOCKS]:
        name = str(field["name"])
        choices = [str(choice) for choice in field.get("choices") or []][:MAX_OPTIONS]
        element: dict[str, Any]
        if choices:
            options = [
                {
                    "text": {"type": "plain_text", "text": _cut(choice, MAX_OPTION_TEXT)},
                    "value": choice[:MAX_OPTION_VALUE],
                }
                for choice in choices
            ]
            element = {"type": "static_select", "action_id": "value", "options": options}
            initial = next((o for o in options if o["value"] == field.get("value")), None)
            if initial is not None:
                element["initial_option"] = initial
        else:
            element = {"type": "plain_text_input", "action_id": "value"}
            if field.get("value"):
                element["initial_value"] = str(field["value"])
        block: dict[str, Any] = {
            "type": "input",
            "block_id": f"field:{name}"[:255],
            "label": {"type": "plain_text", "text": _cut(str(field.get("label") or name), 2000)},
            "element": element,
            "optional": bool(field.get("optional")),
        }
        if field.get("hint"):
            block["hint"] = {"type": "plain_text", "text": _cut(str(field["hint"]), 2000)}
        blocks.append(block)
    title = str(spec.get("title") or "Lookout")
    if len(title) > MAX_MODAL_TITLE:  # a modal's title is short: the whole one goes above
        blocks.insert(0, _section(f"*{mrkdwn(title)}*"))
        title = "Lookout"
    return {
        "type": "modal",
        "callback_id": FORM_CALLBACK,
        "title": {"type": "plain_text", "text": title},
        "submit": {
            "type": "plain_text",
            "text": _cut(str(spec.get("submit") or "Submit"), MAX_MODAL_BUTTON),
        },
        "close": {"type": "plain_text", "text": "Cancel"},
        "private_metadata": metadata[:MAX_METADATA],
        "blocks": blocks,
    }


def submitted_values(view: dict[str, Any]) -> dict[str, str]:
    """Field name → value of a modal's view_submission (`view.state.values`)."""
    values: dict[str, str] = {}
    state = (view.get("state") or {}).get("values") or {}
    for block_id, actions in state.items():
        if not str(block_id).startswith("field:") or not isinstance(actions, dict):
            continue
        answer = actions.get("value") or {}
        if answer.get("type") == "static_select":
            value = (answer.get("selected_option") or {}).get("value")
        else:
            value = answer.get("value")
        if isinstance(value, str):
            values[str(block_id).removeprefix("field:")] = value
    return values


def render_block(block: Block) -> list[dict[str, Any]]:
    if isinstance(block, Text):
        return [_section(part) for part in _split(mrkdwn(block.text))]
    if isinstance(block, Fields):
        sections = []
        for start in range(0, len(block.fields), MAX_FIELDS):
            chunk = block.fields[start : start + MAX_FIELDS]
            fields = [
                {"type": "mrkdwn", "text": _cut(f"*{mrkdwn(label)}*\n{mrkdwn(value)}", MAX_FIELD)}
                for label, value in chunk
            ]
            sections.append({"type": "section", "fields": fields})
        return sections
    if isinstance(block, Table):
        return _table(block)
    if isinstance(block, Actions):
        return _actions(block)
    if isinstance(block, Context):
        return [_context(mrkdwn(block.text))]
    if isinstance(block, Image | File):
        return []  # uploaded as a file into the thread (see SlackPlatform)
    if isinstance(block, Form):
        return _form(block)
    raise TypeError(f"no Block Kit rendering for {type(block).__name__}")


def render_blocks(reply: Reply) -> list[dict[str, Any]]:
    """At most 50 blocks within Slack's text bounds (`skills.fit.SLACK`); what does not fit
    is named in a context line."""
    reply = fit(reply, SLACK)
    blocks = [item for block in reply.blocks for item in render_block(block)]
    if len(blocks) <= MAX_BLOCKS:
        return blocks
    kept = blocks[: MAX_BLOCKS - 1]
    return [*kept, _context(f"…and {len(blocks) - len(kept)} more blocks; ask for less")]


def fallback_text(reply: Reply) -> str:
    """The notification and screen-reader text every message must carry."""
    return _cut(mrkdwn(reply.markdown_text) or "Lookout", MAX_FALLBACK)


def images(reply: Reply) -> list[Image]:
    return [block for block in reply.blocks if isinstance(block, Image)]


def files(reply: Reply) -> list[File]:
    """The reply's documents, uploaded into its thread (see SlackPlatform)."""
    return [block for block in reply.blocks if isinstance(block, File)]
