"""What the notifier needs from a chat platform. Console ships here; Slack and Teams plug in."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
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


class DeliveryError(Exception):
    """A platform refused a message, as its documented errors classify it.

    `permanent`: asking again the same way will never work (a channel that is gone, a token
    revoked); `refused_content`: this message was refused (too large, invalid blocks) and a
    smaller one may pass. Anything else (rate limits, 5xx, timeouts) is transient: retried
    with backoff, a bounded number of times."""

    def __init__(
        self, reason: str, *, permanent: bool = False, refused_content: bool = False
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent or refused_content
        self.refused_content = refused_content


class ChatPlatform(Protocol):
    name: str

    async def post(self, *, channel: str, reply: Reply, intent: str | None = None) -> PostedMessage:
        """Post a new root message in `channel`. `intent` is a token the message carries where
        the platform keeps one (Slack's message metadata), so `find_posted` can find it."""
        ...

    async def update(self, *, channel: str, message_id: str, reply: Reply) -> None:
        """Replace a root message in place."""
        ...

    async def post_in_thread(self, *, channel: str, thread_id: str, reply: Reply) -> PostedMessage:
        """Answer in a message's thread."""
        ...

    async def find_posted(
        self, *, channel: str, intent: str, since: datetime
    ) -> PostedMessage | None:
        """The root message posted with `intent` since `since`, if the platform can tell
        (after a crash between posting and recording it); None when not found or not knowable."""
        ...


class ChatAdapter(Protocol):
    """A chat platform plugged into the process: its HTTP routes, its outgoing side, and
    whatever it keeps running (a Socket Mode connection, say)."""

    @property
    def platform(self) -> ChatPlatform: ...

    def routes(self) -> APIRouter: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...
