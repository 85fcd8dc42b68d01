"""Answers on Slack: where they belong, and somewhere the person sees when that fails.

An answer about an incident goes to the incident's thread; anything else where it was asked.
When the incident's thread is elsewhere, one line where it was asked links to the answer
(its permalink, `skills.pointer`).
When Slack refuses that place for good (Lookout is not in the channel, the channel was
archived, the thread was deleted), the answer goes where it was asked instead, and failing
that only to the person: through the command's `response_url`, as an ephemeral message, or
in their direct messages with Lookout — saying why it did not land where it should have.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any

import aiohttp
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.errors import SlackApiError

from bot.metrics import Metrics
from bot.platforms import DeliveryError, PostedMessage, RateLimited
from bot.slack.platform import SlackPlatform
from bot.slack.render import fallback_text, render_blocks
from skills.contract import Context, Reply
from skills.fit import compact
from skills.pointer import pointer_reply

log = logging.getLogger(__name__)


class ResponseUrlRefused(Exception):
    """A response_url answered other than 200 (expired after 30 minutes, or used 5 times)."""


FAILURES = (
    DeliveryError,
    RateLimited,
    SlackApiError,
    ResponseUrlRefused,
    aiohttp.ClientError,
    TimeoutError,
)


@dataclass(frozen=True)
class Asked:
    """Where and by whom a command was given."""

    channel: str
    thread: str | None
    user: str
    respond: AsyncRespond | None = None


def _why(error: BaseException) -> str:
    if isinstance(error, DeliveryError):
        where = "Lookout cannot post there" if error.gone else "Lookout could not answer there"
        hint = f" — {error.hint}" if error.hint else ""
        return f"Only you can see this: {where} ({error.code or error.reason}){hint}."
    return "Only you can see this: Lookout could not post the answer where you asked."


class SlackAnswers:
    def __init__(
        self,
        platform: SlackPlatform,
        metrics: Metrics,
        thread_of: Callable[[int], Awaitable[tuple[str, str] | None]],
    ) -> None:
        self._platform = platform
        self._metrics = metrics
        self._thread_of = thread_of

    async def send(self, reply: Reply, asked: Asked) -> None:
        """Deliver `reply` (never raises: what cannot be delivered anywhere is logged)."""
        if reply.visibility == "ephemeral":
            await self._privately(reply, asked)
            return
        places: list[tuple[str, str | None]] = []
        if reply.incident_id is not None and reply.visibility == "thread":
            found = await self._thread_of(reply.incident_id)
            if found is not None:
                places.append(found)
        if (asked.channel, asked.thread) not in places:
            places.append((asked.channel, asked.thread))
        problem: BaseException | None = None
        for channel, thread in places:
            try:
                posted = await self._post(reply, channel, thread)
            except FAILURES as error:
                problem = error
                log.warning(
                    "could not answer in a Slack channel; trying elsewhere",
                    extra={"channel": channel, "slack_thread": thread, "error": repr(error)},
                )
                continue
            if (channel, thread) != (asked.channel, asked.thread) and reply.incident_id:
                await self._point(reply.incident_id, posted, channel, asked)
            return
        self._metrics.errors.labels(where="slack").inc()
        note = Context(_why(problem) if problem else "")
        await self._privately(replace(reply, blocks=[*reply.blocks, note]), asked)

    async def _point(
        self, incident_id: int, posted: PostedMessage, channel: str, asked: Asked
    ) -> None:
        """One line where it was asked, linking to the answer in the incident's thread."""
        link = await self._platform.permalink(
            channel=posted.channel or channel, message_id=posted.message_id
        )
        try:
            await self._post_once(
                pointer_reply(incident_id, link=link), asked.channel, asked.thread
            )
        except FAILURES as error:
            # The answer is there; only the trace of it is missing.
            log.warning(
                "could not leave a pointer to the answer",
                extra={"channel": asked.channel, "error": repr(error)},
            )

    async def _post(self, reply: Reply, channel: str, thread: str | None) -> PostedMessage:
        try:
            return await self._post_once(reply, channel, thread)
        except DeliveryError as error:
            if not error.refused_content:
                raise
            return await self._post_once(compact(reply, error.reason), channel, thread)

    async def _post_once(self, reply: Reply, channel: str, thread: str | None) -> PostedMessage:
        if thread:
            return await self._platform.post_in_thread(
                channel=channel, thread_id=thread, reply=reply, wait=True
            )
        return await self._platform.post(channel=channel, reply=reply, wait=True)

    async def _privately(self, reply: Reply, asked: Asked) -> None:
        """Only to the person: response_url (works even where Lookout is no member), then an
        ephemeral message, then their direct messages with Lookout."""
        attempts: list[tuple[str, Callable[[], Awaitable[Any]]]] = []
        respond = asked.respond
        if respond is not None and respond.response_url:
            attempts.append(("response_url", lambda: self._respond(respond, reply)))
        attempts.append(
            (
                "ephemeral",
                lambda: self._platform.post_ephemeral(
                    channel=asked.channel, user=asked.user, reply=reply, thread_id=asked.thread
                ),
            )
        )
        attempts.append(
            ("direct message", lambda: self._platform.post(channel=asked.user, reply=reply))
        )
        for how, attempt in attempts:
            try:
                await attempt()
                return
            except FAILURES as error:
                log.warning(
                    "could not answer privately in Slack",
                    extra={"how": how, "user": asked.user, "error": repr(error)},
                )
        self._metrics.errors.labels(where="slack").inc()
        log.error(
            "an answer could not be delivered anywhere in Slack",
            extra={"channel": asked.channel, "user": asked.user},
        )

    @staticmethod
    async def _respond(respond: AsyncRespond, reply: Reply) -> None:
        response = await respond(
            text=fallback_text(reply),
            blocks=render_blocks(reply),
            response_type="ephemeral",
            replace_original=False,
        )
        status = getattr(response, "status_code", 200)
        if status != 200:
            raise ResponseUrlRefused(f"{status} {getattr(response, 'body', '')}")
