"""Slack's outgoing side: root messages, in-place updates, thread answers, ephemeral answers,
and who people are (users.info).

The notifier's calls never sleep: a 429 blocks that channel and method for as long as its
Retry-After says (`RateLimited`), and the notifier moves on to other messages. Answers to a
person (`wait=True`) wait out a short Retry-After and retry a 5xx or a dropped connection,
briefly, since nothing else would send them later.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bot.platforms import DeliveryError, PostedMessage, RateLimited, RateLimits
from bot.slack.errors import delivery_error
from bot.slack.render import fallback_text, files, images, render_blocks
from skills.contract import Reply

log = logging.getLogger(__name__)

T = TypeVar("T")
# Message metadata that lets Lookout find its own post after a crash (api.slack.com/metadata).
METADATA_EVENT = "lookout_message"
_CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{6,}$")
HISTORY_PAGES = 5
# An answer waits out a Retry-After up to this long; longer, and it is given up.
MAX_ANSWER_WAIT = 30.0
ANSWER_RETRIES = 2
# users.info answers are kept this long (seconds); failures for less, to ask again soon.
USER_TTL = 3600.0
# usergroups.list answers (who is in which user group) are kept this long (seconds).
GROUPS_TTL = 300.0
USER_FAILURE_TTL = 300.0
MAX_USERS = 10_000
# One Web API call gives up after this many seconds (LOOKOUT_SLACK_TIMEOUT_SECONDS).
DEFAULT_TIMEOUT = 10.0


def web_client(
    token: str | None,
    base_url: str | None = None,
    *,
    patient: bool = True,
    timeout: float = DEFAULT_TIMEOUT,
) -> AsyncWebClient:
    """A Web API client whose calls give up after `timeout` seconds. `patient` (Bolt's own
    client, Socket Mode): the SDK waits out 429s (honouring Retry-After) and retries 5xx
    inside the call. Not patient (Lookout's posting): every error comes straight back, so one
    slow message never holds up another."""
    client = AsyncWebClient(token=token, base_url=base_url or AsyncWebClient.BASE_URL)
    client.timeout = timeout  # type: ignore[assignment]  # aiohttp takes float seconds
    client.retry_handlers = (
        [
            AsyncConnectionErrorRetryHandler(max_retry_count=2),
            AsyncRateLimitErrorRetryHandler(max_retry_count=5),
            AsyncServerErrorRetryHandler(max_retry_count=2),
        ]
        if patient
        else []
    )
    return client


@dataclass(frozen=True)
class SlackUser:
    """What users.info says of a person: the name to show (display name → real name →
    name), their workspace and Enterprise Grid org, and whether it is a bot user."""

    id: str
    name: str | None
    team: str | None
    enterprise: str | None
    is_bot: bool = False

    @classmethod
    def from_api(cls, user: dict[str, Any]) -> SlackUser:
        profile = user.get("profile") or {}
        name = (
            profile.get("display_name")
            or profile.get("real_name")
            or user.get("real_name")
            or user.get("name")
        )
        enterprise = (user.get("enterprise_user") or {}).get("enterprise_id")
        return cls(
            id=str(user.get("id") or ""),
            name=str(name).strip() or None if name else None,
            team=user.get("team_id") or profile.get("team") or None,
            enterprise=enterprise or None,
            is_bot=bool(user.get("is_bot")),
        )


class SlackPlatform:
    name = "slack"

    def __init__(
        self,
        client: AsyncWebClient,
        *,
        rate_limits: RateLimits | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.rate_limits = rate_limits or RateLimits(clock)
        self._clock = clock
        self._channel_ids: dict[str, str] = {}
        self._users: dict[str, tuple[SlackUser | None, float]] = {}
        self._lookups: dict[str, asyncio.Future[SlackUser | None]] = {}
        self._user_failures: dict[str, str] = {}  # user id → why users.info said nothing
        # user id → the user groups (ids and handles) they are in, and until when that holds
        self._groups: tuple[dict[str, tuple[str, ...]], float] | None = None

    async def _call(
        self,
        method: str,
        channel: str,
        call: Callable[[], Awaitable[T]],
        *,
        what: str,
        wait: bool = False,
    ) -> T:
        """Run one Web API call. Slack's documented errors become DeliveryError, a 429
        RateLimited (and a wait for this channel and method; a channel is one whether named
        or given by id). With `wait`, a short wait is slept and the call tried again, as are
        a 5xx or a dropped connection, twice."""
        attempt = 0
        while True:
            left = max(
                self.rate_limits.remaining(channel=scope, method=method)
                for scope in self._scopes(channel)
            )
            if left > 0:
                if not wait or left > MAX_ANSWER_WAIT:
                    raise RateLimited(method=method, channel=channel, retry_after=left)
                await asyncio.sleep(left)
            try:
                return await call()
            except SlackApiError as error:
                meaning = delivery_error(error, what, method=method, channel=channel)
                if isinstance(meaning, RateLimited):
                    for scope in self._scopes(channel):
                        self.rate_limits.block(
                            channel=scope, method=method, seconds=meaning.retry_after
                        )
                    if wait and attempt < ANSWER_RETRIES:
                        attempt += 1
                        continue
                if meaning is error and wait and attempt < ANSWER_RETRIES:
                    attempt += 1
                    await asyncio.sleep(0.5 * attempt)
                    continue
                raise meaning from error
            except (aiohttp.ClientError, TimeoutError) as error:
                # A call that timed out is not tried again: Slack is slow, another try would
                # double the wait, and a post may have gone through.
                if wait and attempt < ANSWER_RETRIES and not isinstance(error, TimeoutError):
                    attempt += 1
                    await asyncio.sleep(0.5 * attempt)
                    continue
                raise

    def _scopes(self, channel: str) -> set[str]:
        """Every name a channel's rate limits are kept under: as given, its id, and the
        names known to stand for that id (a wait asked for by name holds for the id too)."""
        channel_id = self._channel_ids.get(channel, channel)
        names = (name for name, known in self._channel_ids.items() if known == channel_id)
        return {channel, channel_id, *names}

    async def post(
        self, *, channel: str, reply: Reply, intent: str | None = None, wait: bool = False
    ) -> PostedMessage:
        extra: dict[str, Any] = {}
        if intent:
            extra["metadata"] = {"event_type": METADATA_EVENT, "event_payload": {"intent": intent}}
        response = await self._call(
            "chat.postMessage",
            channel,
            lambda: self.client.chat_postMessage(
                channel=channel, text=fallback_text(reply), blocks=render_blocks(reply), **extra
            ),
            what="post the message",
            wait=wait,
        )
        ts = str(response["ts"])
        channel_id = str(response.get("channel") or channel)
        self._channel_ids[channel] = channel_id
        await self._upload_images(channel_id, ts, reply)
        return PostedMessage(message_id=ts, thread_id=ts, channel=channel_id)

    async def update(
        self, *, channel: str, message_id: str, reply: Reply, wait: bool = False
    ) -> None:
        await self._call(
            "chat.update",
            channel,
            lambda: self.client.chat_update(
                channel=channel,
                ts=message_id,
                text=fallback_text(reply),
                blocks=render_blocks(reply),
            ),
            what="update the message",
            wait=wait,
        )

    async def permalink(self, *, channel: str, message_id: str) -> str | None:
        """A link to one message (a thread reply's opens its thread), from chat.getPermalink
        (api.slack.com/methods/chat.getPermalink); None when Slack gives none."""
        try:
            response = await self._call(
                "chat.getPermalink",
                channel,
                lambda: self.client.chat_getPermalink(channel=channel, message_ts=message_id),
                what="link to the message",
            )
        except (DeliveryError, RateLimited, SlackApiError, aiohttp.ClientError, TimeoutError):
            return None
        link = response.get("permalink")
        return str(link) if isinstance(link, str) and link.startswith("https://") else None

    async def post_in_thread(
        self, *, channel: str, thread_id: str, reply: Reply, wait: bool = False
    ) -> PostedMessage:
        response = await self._call(
            "chat.postMessage",
            channel,
            lambda: self.client.chat_postMessage(
                channel=channel,
                thread_ts=thread_id,
                text=fallback_text(reply),
                blocks=render_blocks(reply),
            ),
            what="answer in the thread",
            wait=wait,
        )
        await self._upload_images(channel, thread_id, reply)
        return PostedMessage(message_id=str(response["ts"]), thread_id=thread_id, channel=channel)

    async def user(self, user_id: str) -> SlackUser | None:
        """users.info for `user_id` (needs `users:read`), kept for an hour; None when Slack
        cannot say (the failure is kept for five minutes, so a broken scope is not hammered).
        Requests that ask while a look-up of the same person is under way share its answer."""
        cached = self._users.get(user_id)
        if cached is not None and cached[1] > self._clock():
            return cached[0]
        pending = self._lookups.get(user_id)
        if pending is None:
            pending = asyncio.ensure_future(self._look_up(user_id))
            self._lookups[user_id] = pending
            pending.add_done_callback(lambda _: self._lookups.pop(user_id, None))
        # Shielded: one asker that goes away does not end the look-up for the others.
        return await asyncio.shield(pending)

    async def _look_up(self, user_id: str) -> SlackUser | None:
        found: SlackUser | None = None
        try:
            response = await self._call(
                "users.info",
                user_id,
                lambda: self.client.users_info(user=user_id),
                what="look the user up",
                wait=True,
            )
            found = SlackUser.from_api(dict(response.get("user") or {}))
            self._user_failures.pop(user_id, None)
        except Exception as error:
            log.warning(
                "could not look a Slack user up", extra={"user": user_id, "error": repr(error)}
            )
            if isinstance(error, TimeoutError | aiohttp.ClientError):
                # Slack did not answer (an error it answered, user_not_found, is an answer).
                self._user_failures[user_id] = self._lookup_failure(error)
        if len(self._users) > MAX_USERS:
            self._users.clear()
            self._user_failures.clear()
        self._users[user_id] = (found, self._clock() + (USER_TTL if found else USER_FAILURE_TTL))
        return found

    async def user_groups(self, user_id: str) -> tuple[str, ...]:
        """The ids and handles of the user groups `user_id` is in, from usergroups.list
        with its members (needs `usergroups:read`), asked at most every five minutes; ()
        when Slack cannot say (the person then has the roles their id gives them)."""
        if self._groups is None or self._groups[1] <= self._clock():
            members: dict[str, tuple[str, ...]] = {}
            try:
                response = await self._call(
                    "usergroups.list",
                    "usergroups",
                    lambda: self.client.usergroups_list(include_users=True),
                    what="read the user groups",
                    wait=True,
                )
                for group in response.get("usergroups") or []:
                    names = tuple(str(g) for g in (group.get("id"), group.get("handle")) if g)
                    for member in group.get("users") or []:
                        members[str(member)] = members.get(str(member), ()) + names
            except Exception as error:
                log.warning("could not read Slack user groups", extra={"error": repr(error)})
                self._groups = (members, self._clock() + USER_FAILURE_TTL)
                return ()
            self._groups = (members, self._clock() + GROUPS_TTL)
        return self._groups[0].get(user_id, ())

    def lookup_failure(self, user_id: str) -> str | None:
        """Why the last users.info for `user_id` gave nothing, while that is remembered
        ("Slack did not answer users.info within 10 s"); None when it answered."""
        return self._user_failures.get(user_id)

    def _lookup_failure(self, error: Exception) -> str:
        if isinstance(error, TimeoutError):
            return f"Slack did not answer users.info within {self.client.timeout:g} s"
        return "Slack's Web API is not reachable"

    async def direct_message(self, *, user: str, reply: Reply) -> PostedMessage:
        """Send `reply` to `user` (U…) in Lookout's direct conversation with them
        (conversations.open, then chat.postMessage)."""
        opened = await self._call(
            "conversations.open",
            user,
            lambda: self.client.conversations_open(users=user),
            what="open a direct message",
            wait=True,
        )
        channel = str((opened.get("channel") or {}).get("id") or user)
        response = await self._call(
            "chat.postMessage",
            channel,
            lambda: self.client.chat_postMessage(
                channel=channel, text=fallback_text(reply), blocks=render_blocks(reply)
            ),
            what="send a direct message",
            wait=True,
        )
        ts = str(response["ts"])
        return PostedMessage(message_id=ts, thread_id=ts, channel=channel)

    async def mention(
        self, *, channel: str, thread_id: str | None, user: str, name: str, reply: Reply
    ) -> PostedMessage:
        """Post `reply` in a thread (or the channel) with `user` @mentioned before it."""
        tag = f"<@{user}>"
        blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": tag}}]
        extra: dict[str, Any] = {"thread_ts": thread_id} if thread_id else {}
        response = await self._call(
            "chat.postMessage",
            channel,
            lambda: self.client.chat_postMessage(
                channel=channel,
                text=f"{tag} {fallback_text(reply)}",
                blocks=blocks + render_blocks(reply),
                **extra,
            ),
            what="mention someone",
            wait=True,
        )
        ts = str(response["ts"])
        return PostedMessage(message_id=ts, thread_id=thread_id or ts, channel=channel)

    async def find_posted(
        self, *, channel: str, intent: str, since: datetime
    ) -> PostedMessage | None:
        """Lookout's own root message carrying `intent` in its metadata, posted since `since`
        (conversations.history with include_all_metadata; needs the history scopes)."""
        channel_id = await self._channel_id(channel)
        if channel_id is None:
            return None
        cursor: str | None = None
        for _ in range(HISTORY_PAGES):
            paging: dict[str, Any] = {"cursor": cursor} if cursor else {}
            page = await self._call(
                "conversations.history",
                channel_id,
                lambda paging=paging: self.client.conversations_history(  # type: ignore[misc]
                    channel=channel_id,
                    oldest=f"{since.timestamp():.6f}",
                    include_all_metadata=True,
                    limit=200,
                    **paging,
                ),
                what="read the channel's history",
            )
            for message in page.get("messages") or []:
                payload = (message.get("metadata") or {}).get("event_payload") or {}
                if payload.get("intent") == intent and message.get("ts"):
                    ts = str(message["ts"])
                    return PostedMessage(message_id=ts, thread_id=ts, channel=channel_id)
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return None
        return None

    async def _channel_id(self, channel: str) -> str | None:
        """A channel's id: as given when it is one, else looked up by name (once)."""
        if _CHANNEL_ID.match(channel):
            return channel
        if channel in self._channel_ids:
            return self._channel_ids[channel]
        name = channel.removeprefix("#")
        cursor: str | None = None
        while True:
            paging: dict[str, Any] = {"cursor": cursor} if cursor else {}
            page = await self._call(
                "conversations.list",
                "",
                lambda paging=paging: self.client.conversations_list(  # type: ignore[misc]
                    types="public_channel,private_channel",
                    exclude_archived=True,
                    limit=1000,
                    **paging,
                ),
                what="list channels",
            )
            for found in page.get("channels") or []:
                if found.get("name") == name and found.get("id"):
                    self._channel_ids[channel] = str(found["id"])
                    return self._channel_ids[channel]
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return None

    async def channel_names(self, channel_id: str) -> tuple[str, ...]:
        """Every name routing may know the channel `channel_id` by: the id, its name with and
        without `#` (conversations.info, needs `channels:read` / `groups:read`), and names it
        was posted to by. Just the id and those when Slack cannot say."""
        names = [
            channel_id,
            *(name for name, known in self._channel_ids.items() if known == channel_id),
        ]
        try:
            response = await self._call(
                "conversations.info",
                channel_id,
                lambda: self.client.conversations_info(channel=channel_id),
                what="read the channel",
                wait=True,
            )
        except (
            DeliveryError,
            RateLimited,
            SlackApiError,
            aiohttp.ClientError,
            TimeoutError,
        ) as error:
            log.warning(
                "could not read a Slack channel's name",
                extra={"channel": channel_id, "error": repr(error)},
            )
        else:
            name = str((response.get("channel") or {}).get("name") or "")
            if name:
                names += [name, f"#{name}"]
        return tuple(dict.fromkeys(names))

    async def post_ephemeral(
        self, *, channel: str, user: str, reply: Reply, thread_id: str | None = None
    ) -> None:
        """A message only `user` sees, in `channel` (they must be in it); waits like answers."""
        kwargs: dict[str, Any] = {"thread_ts": thread_id} if thread_id else {}
        await self._call(
            "chat.postEphemeral",
            channel,
            lambda: self.client.chat_postEphemeral(
                channel=channel,
                user=user,
                text=fallback_text(reply),
                blocks=render_blocks(reply),
                **kwargs,
            ),
            what="answer privately",
            wait=True,
        )

    async def _upload_images(self, channel: str, thread_ts: str, reply: Reply) -> None:
        """Pictures and documents of a reply, as files in its thread (files.upload v2). The
        message is posted either way, so a failed upload is logged rather than failing (and
        re-sending) the message."""
        uploads: list[dict[str, Any]] = [
            {
                "content": image.png,
                "filename": f"lookout-{number}.png",
                "title": image.alt,
                "alt_txt": image.alt,
            }
            for number, image in enumerate(images(reply), start=1)
        ] + [
            {"content": document.content, "filename": document.name, "title": document.name}
            for document in files(reply)
        ]
        for upload in uploads:
            try:
                await self.client.files_upload_v2(channel=channel, thread_ts=thread_ts, **upload)
            except (SlackApiError, aiohttp.ClientError, TimeoutError) as error:
                log.warning(
                    "could not upload a file to Slack",
                    extra={"channel": channel, "error": repr(error)},
                )
