"""What the notifier needs from a chat platform. Console ships here; Slack and Teams plug in."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from lookout.skills.contract import Reply


@dataclass(frozen=True)
class PostedMessage:
    message_id: str
    thread_id: str


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
