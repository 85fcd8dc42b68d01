"""What the notifier needs from a chat platform. Console ships here; Slack and Teams plug in."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from fastapi import APIRouter

from skills.contract import Reply


@dataclass(frozen=True)
class PostedMessage:
    """Ids the platform gave a message; `channel` when it differs from the name we posted to
    (Slack answers a channel name with the channel's id, which updates require)."""

    message_id: str
    thread_id: str
    channel: str | None = None


class ChatPlatform(Protocol):
    name: str

    async def post(self, *, channel: str, reply: Reply) -> PostedMessage:
        """Post a new root message in `channel`."""
        ...

    async def update(self, *, channel: str, message_id: str, reply: Reply) -> None:
        """Replace a root message in place."""
        ...

    async def post_in_thread(self, *, channel: str, thread_id: str, reply: Reply) -> PostedMessage:
        """Answer in a message's thread."""
        ...


class ChatAdapter(Protocol):
    """A chat platform plugged into the process: its HTTP routes, its outgoing side, and
    whatever it keeps running (a Socket Mode connection, say)."""

    @property
    def platform(self) -> ChatPlatform: ...

    def routes(self) -> APIRouter: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...
