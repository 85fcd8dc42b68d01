"""The neutral contract between chat platforms and skills.

A slash command, a button click, a Teams message and a scheduled report all become an
`Invocation` of a skill by an `Actor` in a `Conversation`, answered by a `Reply`.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import IntEnum
from typing import Any, Literal

from pydantic import BaseModel

from core.wording import plural
from skills.markup import plain


class Role(IntEnum):
    """Ordered: a role can do everything the roles below it can."""

    VIEWER = 1
    RESPONDER = 2
    ADMIN = 3
    OWNER = 4

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, name: str) -> Role:
        try:
            return cls[name.strip().upper()]
        except KeyError:
            raise ValueError(
                f"unknown role {name!r}: use viewer, responder, admin or owner"
            ) from None


@dataclass(frozen=True)
class Actor:
    """Who asked: a platform identity; the dispatcher fills in the role Lookout gives it.

    `team` is the workspace (Slack team id) or tenant (Teams) the person belongs to, when the
    platform says; `external` is True when that is not the one Lookout is installed in (a
    Slack Connect partner, a Teams guest or another tenant's member of a shared channel);
    `bot` is True for bots and workflows, whose `user_id` is the bot's own id."""

    platform: str
    user_id: str
    display_name: str
    role: Role | None = None
    team: str | None = None
    external: bool = False
    bot: bool = False
    # Groups the platform says the person is in (Slack user groups S…, Azure AD group ids);
    # projects may give roles by group.
    groups: tuple[str, ...] = ()

    def with_role(self, role: Role) -> Actor:
        return replace(self, role=role)


@dataclass(frozen=True)
class Conversation:
    """Where it was asked: platform channel and thread, and the incident that thread is about.
    `project`: the project the conversation is in when the asker says so (a scheduled
    report's); chat platforms leave it to the channel."""

    platform: str
    channel: str
    thread: str | None = None
    incident_id: int | None = None
    project: str | None = None


@dataclass(frozen=True)
class Text:
    """Markdown subset: **bold**, _italic_, `code`, [text](url), newlines, "• " bullets, and
    times as spans (`skills.moments.when`) that each platform formats for its reader."""

    text: str


@dataclass(frozen=True)
class Fields:
    fields: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Table:
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class Button:
    """A button is an invocation: clicking it runs `skill args…` exactly as if typed."""

    label: str
    skill: str
    args: tuple[str, ...] = ()
    style: Literal["primary", "danger", "default"] = "default"

    @property
    def command(self) -> str:
        return shlex.join([self.skill, *self.args])


@dataclass(frozen=True)
class Menu:
    """A pick that runs `skill args… <value>` exactly as if typed. `choices` are (label,
    value) pairs; `people=True` picks a person instead, where the platform has a people
    picker (Slack's users_select; the value is the person's mention), and is left out where
    it has none. `current` is the value chosen now, shown as the menu's initial choice."""

    label: str
    skill: str
    args: tuple[str, ...] = ()
    choices: tuple[tuple[str, str], ...] = ()
    people: bool = False
    current: str | None = None

    @property
    def command(self) -> str:
        """The command before the chosen value is added."""
        return shlex.join([self.skill, *self.args])

    def command_for(self, value: str) -> str:
        return shlex.join([self.skill, *self.args, value])


@dataclass(frozen=True)
class Actions:
    buttons: tuple[Button, ...]
    menus: tuple[Menu, ...] = ()


@dataclass(frozen=True)
class Image:
    png: bytes
    alt: str


@dataclass(frozen=True)
class Context:
    text: str


@dataclass(frozen=True)
class Input:
    """One field of a `Form`. Its value is added to the form's command as `name=value`.
    `choices` makes it a pick from a fixed set; `value` is filled in at the start."""

    name: str
    label: str
    hint: str = ""
    choices: tuple[str, ...] = ()
    value: str = ""
    optional: bool = False


@dataclass(frozen=True)
class Form:
    """Fields to fill in, then one command, exactly as if typed: `skill args… name=value…`
    (filled fields only, each one word). A platform shows it its own way: a button that opens
    a modal in Slack, Adaptive Card inputs in Teams, inline fields in the console."""

    title: str
    skill: str
    args: tuple[str, ...]
    inputs: tuple[Input, ...]
    submit: str = "Submit"

    @property
    def command(self) -> str:
        """The command before any field is added."""
        return shlex.join([self.skill, *self.args])

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(field.name for field in self.inputs)


def form_command(command: str, names: Sequence[str], values: Mapping[str, object]) -> str:
    """`command` plus `name=value` for every named field that has a value (whitespace
    trimmed), each quoted as one word: what a submitted form runs."""
    words = [command]
    for name in names:
        value = values.get(name)
        if isinstance(value, str) and value.strip():
            words.append(shlex.quote(f"{name}={value.strip()}"))
    return " ".join(words)


@dataclass(frozen=True)
class File:
    """A document that goes with the reply (a step's whole output): attached where the
    platform takes files, otherwise only named."""

    name: str
    content: bytes
    mime: str = "text/plain"


Block = Text | Fields | Table | Actions | Image | Context | Form | File
Visibility = Literal["thread", "channel", "ephemeral"]


@dataclass
class Reply:
    """What a skill answers. `incident_id` sends it to that incident's thread; `more` says
    where everything is when a platform must shorten it ("`show INC-4` for everything")."""

    blocks: list[Block] = field(default_factory=list)
    visibility: Visibility = "thread"
    incident_id: int | None = None
    color: str | None = None
    more: str | None = None

    @classmethod
    def text(cls, text: str, **kwargs: Any) -> Reply:
        return cls(blocks=[Text(text)], **kwargs)

    @property
    def plain_text(self) -> str:
        """A plain-text rendering, for notifications and platforms' fallback text (marked
        characters shown as themselves, see `skills.markup`)."""
        return plain(self.markdown_text)

    @property
    def markdown_text(self) -> str:
        """The reply's text as one markdown string (marks kept)."""
        parts: list[str] = []
        for block in self.blocks:
            if isinstance(block, Text | Context):
                parts.append(block.text)
            elif isinstance(block, Fields):
                parts.append(" · ".join(f"{label}: {value}" for label, value in block.fields))
            elif isinstance(block, Table):
                parts.append(plural(len(block.rows), "row"))
            elif isinstance(block, Form):
                parts.append(block.title)
        return "\n".join(parts)


@dataclass(frozen=True)
class Mention:
    """A person the command mentions, as the platform identified them: their id there and
    the name the command's text shows for them (`@Dana Lopez` in Slack, `Dana Lopez` in
    Teams)."""

    user_id: str
    name: str


@dataclass(frozen=True)
class Invocation:
    """One run of a skill: which, with what arguments, by whom, where, mentioning whom."""

    skill: str
    args: BaseModel
    argv: tuple[str, ...]
    actor: Actor
    conversation: Conversation
    raw: Any = None
    mentions: tuple[Mention, ...] = ()

    @property
    def command(self) -> str:
        return shlex.join([self.skill, *self.argv])
