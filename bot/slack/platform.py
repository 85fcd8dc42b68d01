"""Slack's outgoing side: root messages, in-place updates, thread answers, ephemeral answers."""

from __future__ import annotations

from typing import Any

from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bot.platforms import PostedMessage
from bot.slack.render import fallback_text, images, render_blocks
from skills.contract import Reply


def web_client(token: str, base_url: str | None = None) -> AsyncWebClient:
    """A Web API client that waits out 429s (honouring Retry-After) and retries 5xx."""
    client = AsyncWebClient(token=token, base_url=base_url or AsyncWebClient.BASE_URL)
    client.retry_handlers = [
        AsyncConnectionErrorRetryHandler(max_retry_count=2),
        AsyncRateLimitErrorRetryHandler(max_retry_count=5),
        AsyncServerErrorRetryHandler(max_retry_count=2),
    ]
    return client


class SlackPlatform:
    name = "slack"

    def __init__(self, client: AsyncWebClient) -> None:
        self.client = client

    async def post(self, *, channel: str, reply: Reply) -> PostedMessage:
        response = await self.client.chat_postMessage(
            channel=channel, text=fallback_text(reply), blocks=render_blocks(reply)
        )
        ts = str(response["ts"])
        channel_id = str(response.get("channel") or channel)
        await self._upload_images(channel_id, ts, reply)
        return PostedMessage(message_id=ts, thread_id=ts, channel=channel_id)

    async def update(self, *, channel: str, message_id: str, reply: Reply) -> None:
        await self.client.chat_update(
            channel=channel, ts=message_id, text=fallback_text(reply), blocks=render_blocks(reply)
        )

    async def post_in_thread(self, *, channel: str, thread_id: str, reply: Reply) -> PostedMessage:
        response = await self.client.chat_postMessage(
            channel=channel,
            thread_ts=thread_id,
            text=fallback_text(reply),
            blocks=render_blocks(reply),
        )
        await self._upload_images(channel, thread_id, reply)
        return PostedMessage(message_id=str(response["ts"]), thread_id=thread_id, channel=channel)

    async def post_ephemeral(
        self, *, channel: str, user: str, reply: Reply, thread_id: str | None = None
    ) -> None:
        kwargs: dict[str, Any] = {"thread_ts": thread_id} if thread_id else {}
        await self.client.chat_postEphemeral(
            channel=channel,
            user=user,
            text=fallback_text(reply),
            blocks=render_blocks(reply),
            **kwargs,
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
