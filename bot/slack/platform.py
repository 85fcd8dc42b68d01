"""Slack's outgoing side: root messages, in-place updates, thread answers, ephemeral answers."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bot.platforms import PostedMessage
from bot.slack.errors import delivery_error
from bot.slack.render import fallback_text, images, render_blocks
from skills.contract import Reply

T = TypeVar("T")
# Message metadata that lets Lookout find its own post after a crash (api.slack.com/metadata).
METADATA_EVENT = "lookout_message"
_CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{6,}$")
HISTORY_PAGES = 5


def web_client(token: str, base_url: str | None = None) -> AsyncWebClient:
    """A Web API client that waits out 429s (honouring Retry-After) and retries 5xx."""
    client = AsyncWebClient(token=token, base_url=base_url or AsyncWebClient.BASE_URL)
    client.retry_handlers = [
        AsyncConnectionErrorRetryHandler(max_retry_count=2),
        AsyncRateLimitErrorRetryHandler(max_retry_count=5),
        AsyncServerErrorRetryHandler(max_retry_count=2),
    ]
    return client


async def _classified(call: Callable[[], Awaitable[T]], what: str) -> T:
    """Run a Web API call; Slack's documented permanent errors become DeliveryError."""
    try:
        return await call()
    except SlackApiError as error:
        raise delivery_error(error, what) from error


class SlackPlatform:
    name = "slack"

    def __init__(self, client: AsyncWebClient) -> None:
        self.client = client
        self._channel_ids: dict[str, str] = {}

    async def post(self, *, channel: str, reply: Reply, intent: str | None = None) -> PostedMessage:
        extra: dict[str, Any] = {}
        if intent:
            extra["metadata"] = {"event_type": METADATA_EVENT, "event_payload": {"intent": intent}}
        response = await _classified(
            lambda: self.client.chat_postMessage(
                channel=channel, text=fallback_text(reply), blocks=render_blocks(reply), **extra
            ),
            "post the message",
        )
        ts = str(response["ts"])
        channel_id = str(response.get("channel") or channel)
        self._channel_ids[channel] = channel_id
        await self._upload_images(channel_id, ts, reply)
        return PostedMessage(message_id=ts, thread_id=ts, channel=channel_id)

    async def update(self, *, channel: str, message_id: str, reply: Reply) -> None:
        await _classified(
            lambda: self.client.chat_update(
                channel=channel,
                ts=message_id,
                text=fallback_text(reply),
                blocks=render_blocks(reply),
            ),
            "update the message",
        )

    async def post_in_thread(self, *, channel: str, thread_id: str, reply: Reply) -> PostedMessage:
        response = await _classified(
            lambda: self.client.chat_postMessage(
                channel=channel,
                thread_ts=thread_id,
                text=fallback_text(reply),
                blocks=render_blocks(reply),
            ),
            "answer in the thread",
        )
        await self._upload_images(channel, thread_id, reply)
        return PostedMessage(message_id=str(response["ts"]), thread_id=thread_id, channel=channel)

    async def direct_message(self, *, user: str, reply: Reply) -> PostedMessage:
        """Send `reply` to `user` (U…) in Lookout's direct conversation with them
        (conversations.open, then chat.postMessage)."""
        opened = await _classified(
            lambda: self.client.conversations_open(users=user), "open a direct message"
        )
        channel = str((opened.get("channel") or {}).get("id") or user)
        response = await _classified(
            lambda: self.client.chat_postMessage(
                channel=channel, text=fallback_text(reply), blocks=render_blocks(reply)
            ),
            "send a direct message",
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
        response = await _classified(
            lambda: self.client.chat_postMessage(
                channel=channel,
                text=f"{tag} {fallback_text(reply)}",
                blocks=blocks + render_blocks(reply),
                **extra,
            ),
            "mention someone",
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
            page = await _classified(
                lambda paging=paging: self.client.conversations_history(  # type: ignore[misc]
                    channel=channel_id,
                    oldest=f"{since.timestamp():.6f}",
                    include_all_metadata=True,
                    limit=200,
                    **paging,
                ),
                "read the channel's history",
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
            page = await _classified(
                lambda paging=paging: self.client.conversations_list(  # type: ignore[misc]
                    types="public_channel,private_channel",
                    exclude_archived=True,
                    limit=1000,
                    **paging,
                ),
                "list channels",
            )
            for found in page.get("channels") or []:
                if found.get("name") == name and found.get("id"):
                    self._channel_ids[channel] = str(found["id"])
                    return self._channel_ids[channel]
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return None

    async def post_ephemeral(
        self, *, channel: str, user: str, reply: Reply, thread_id: str | None = None
    ) -> None:
        kwargs: dict[str, Any] = {"thread_ts": thread_id} if thread_id else {}
        await _classified(
            lambda: self.client.chat_postEphemeral(
                channel=channel,
                user=user,
                text=fallback_text(reply),
                blocks=render_blocks(reply),
                **kwargs,
            ),
            "answer privately",
        )

    async def _upload_images(self, channel: str, thread_ts: str, reply: Reply) -> None:
        for number, image in enumerate(images(reply), start=1):
            await self.client.files_upload_v2(
                channel=channel,
                thread_ts=thread_ts,
                content=image.png,
                filename=f"lookout-{number}.png",
                title=image.alt,
                alt_txt=image.alt,
            )
