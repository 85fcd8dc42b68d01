"""What the notifier needs from a chat platform. Console ships here; Slack and Teams plug in."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from fastapi import APIRouter

from skills.contract import Reply


@dataclass(frozen=True)
class PostedMessage:
    """Ids the platform gave a message; `channel` when it differs from the name we posted to
    (Slack answers a channel name with the channel's id, which updates require)."""

    message_id: str
    thread_id: str
    channel: str | None = None


Gone = Literal["message", "conversation"]


class DeliveryError(Exception):
    """A platform refused a message, as its documented errors classify it.

    `permanent`: asking again the same way will never work (a channel that is gone, a token
    revoked); `refused_content`: this message was refused (too large, invalid blocks) and a
    smaller one may pass. `gone` names what no longer exists, which the notifier repairs:
    `"message"` (the message to edit, or the thread to answer in, was deleted: post it anew)
    or `"conversation"` (the bot cannot use the channel until someone adds it again). `code`
    is the platform's own error code, `channel` the conversation it concerns (None when the
    whole app is affected: a revoked token), `hint` what an admin can do about it. Anything
    else (5xx, timeouts) is transient: retried with backoff, a bounded number of times."""

    def __init__(
        self,
        reason: str,
        *,
        permanent: bool = False,
        refused_content: bool = False,
        gone: Gone | None = None,
        code: str | None = None,
        channel: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent or refused_content or gone is not None
        self.refused_content = refused_content
        self.gone = gone
        self.code = code
        self.channel = channel
        self.hint = hint


class RateLimited(Exception):
    """The platform asked to wait `retry_after` seconds before calling `method` in `channel`
    again (HTTP 429 with Retry-After). Not a failure: the work waits, nothing else does."""

    def __init__(self, *, method: str, channel: str, retry_after: float) -> None:
        super().__init__(f"{method} in {channel} is rate limited for {retry_after:.1f} s")
        self.method = method
        self.channel = channel
        self.retry_after = retry_after


class RateLimits:
    """Per (channel, method) waits a platform asked for, so one rate-limited message waits
    alone while everything else goes on. Times are `clock()` seconds (monotonic)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._until: dict[tuple[str, str], float] = {}

    def block(self, *, channel: str, method: str, seconds: float) -> None:
        until = self._clock() + max(seconds, 0.0)
        key = (channel, method)
        self._until[key] = max(self._until.get(key, 0.0), until)

    def remaining(self, *, channel: str, method: str) -> float:
        """Seconds left before `method` may be called in `channel` again (0 when free)."""
        key = (channel, method)
        until = self._until.get(key)
        if until is None:
            return 0.0
        left = until - self._clock()
        if left <= 0:
            del self._until[key]
            return 0.0
        return left

    def check(self, *, channel: str, method: str) -> None:
        """Raise RateLimited while a wait asked for is still running."""
        left = self.remaining(channel=channel, method=method)
        if left > 0:
            raise RateLimited(method=method, channel=channel, retry_after=left)


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
