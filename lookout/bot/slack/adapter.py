"""The Slack adapter: a slack-bolt AsyncApp that turns Slack requests into invocations.

Slash commands, button clicks (`block_actions`) and `@Lookout` mentions are acknowledged
at once (Slack wants an answer within 3 s) and then run as lazy listeners through the same
dispatcher as every other platform. Answers about an incident go to that incident's thread.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request, Response
from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError

from lookout.bot.metrics import Metrics
from lookout.bot.settings import Settings
from lookout.bot.slack.platform import SlackPlatform, web_client
from lookout.bot.slack.render import ACTION_PREFIX, fallback_text, render_blocks
from lookout.skills.contract import Actor, Conversation, Reply
from lookout.skills.dispatcher import Dispatcher
from lookout.storage.database import Database

log = logging.getLogger(__name__)

COMMAND = "/lookout"
_MENTION = re.compile(r"<@[A-Z0-9]+(?:\|[^>]*)?>")


def strip_mentions(text: str) -> str:
    return _MENTION.sub(" ", text).strip()


def request_key(body: dict[str, Any]) -> str | None:
    """What identifies one Slack request across its retries: the event id for the Events
    API, the trigger id for commands and interactions."""
    for key in ("event_id", "trigger_id"):
        value = body.get(key)
        if isinstance(value, str) and value:
            return f"{key}:{value}"
    return None


class SlackAdapter:
    def __init__(
        self,
        *,
        app: AsyncApp,
        platform: SlackPlatform,
        dispatcher: Dispatcher,
        database: Database,
        metrics: Metrics,
        app_token: str | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.app = app
        self._platform = platform
        self._dispatcher = dispatcher
        self._database = database
        self._metrics = metrics
        self._app_token = app_token
        self._clock = clock
        self._handler = AsyncSlackRequestHandler(app)
        self._socket_mode: Any = None
        app.use(self._deduplicate)
        app.command(COMMAND)(ack=self._ack, lazy=[self._on_command])
        app.action(re.compile(f"^{ACTION_PREFIX}:"))(ack=self._ack, lazy=[self._on_button])
        app.event("app_mention")(ack=self._ack, lazy=[self._on_mention])
        app.error(self._on_error)

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        dispatcher: Dispatcher,
        database: Database,
        metrics: Metrics,
    ) -> SlackAdapter:
        if settings.slack_bot_token is None or settings.slack_signing_secret is None:
            raise ValueError("Slack needs SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET")
        client = web_client(settings.slack_bot_token.get_secret_value(), settings.slack_api_url)
        app = AsyncApp(
            client=client,
            signing_secret=settings.slack_signing_secret.get_secret_value(),
            process_before_response=False,
        )
        app_token = (
            settings.slack_app_token.get_secret_value() if settings.slack_app_token else None
        )
        return cls(
            app=app,
            platform=SlackPlatform(client),
            dispatcher=dispatcher,
            database=database,
            metrics=metrics,
            app_token=app_token,
        )

    @property
    def platform(self) -> SlackPlatform:
        return self._platform

    def routes(self) -> APIRouter:
        router = APIRouter()

        @router.post("/slack/events", tags=["slack"])
        async def slack_events(request: Request) -> Response:
            """Slash commands, interactivity and the Events API (signed by Slack)."""
            return await self._handler.handle(request)

        return router

    async def start(self) -> None:
        if self._app_token:
            from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

            self._socket_mode = AsyncSocketModeHandler(self.app, self._app_token)
            await self._socket_mode.connect_async()
            log.info("Slack Socket Mode connected")

    async def stop(self) -> None:
        if self._socket_mode is not None:
            await self._socket_mode.close_async()
            self._socket_mode = None

    # Middleware and listeners. Bolt injects arguments by name.

    async def _deduplicate(
        self, body: dict[str, Any], next: Callable[[], Awaitable[None]]
    ) -> BoltResponse | None:
        """A retried delivery (X-Slack-Retry-Num) of a request already taken runs nothing."""
        key = request_key(body)
        if key is not None:
            async with self._database.unit_of_work() as uow:
                first = await uow.requests.first_time(
                    platform="slack", request_id=key, now=self._clock()
                )
            if not first:
                log.info("ignoring a repeated Slack request", extra={"request": key})
                return BoltResponse(status=200, body="")
        await next()
        return None

    @staticmethod
    async def _ack(ack: Callable[..., Awaitable[None]]) -> None:
        await ack()

    async def _on_command(self, body: dict[str, Any], respond: AsyncRespond) -> None:
        actor = Actor("slack", body["user_id"], body.get("user_name") or body["user_id"])
        channel = body["channel_id"]
        conversation = Conversation("slack", channel)
        reply = await self._dispatcher.run(
            body.get("text", ""), actor=actor, conversation=conversation, raw=body
        )
        await self._answer(reply, channel=channel, thread=None, user=actor.user_id, respond=respond)

    async def _on_button(
        self, body: dict[str, Any], action: dict[str, Any], respond: AsyncRespond
    ) -> None:
        try:
            command = str(json.loads(action["value"])["command"])
        except (KeyError, TypeError, ValueError):
            log.warning("a Lookout button without a command", extra={"value": action.get("value")})
            return
        user = body["user"]
        actor = Actor("slack", user["id"], user.get("username") or user.get("name") or user["id"])
        container = body.get("container", {})
        channel = container.get("channel_id") or body.get("channel", {}).get("id", "")
        message = body.get("message", {})
        message_ts = container.get("message_ts") or message.get("ts")
        thread = message.get("thread_ts") or message_ts
        incident_id = await self._incident_of(message_ts, thread)
        conversation = Conversation("slack", channel, thread, incident_id)
        reply = await self._dispatcher.run(
            command, actor=actor, conversation=conversation, raw=body
        )
        await self._answer(
            reply, channel=channel, thread=thread, user=actor.user_id, respond=respond
        )

    async def _on_mention(self, event: dict[str, Any], body: dict[str, Any]) -> None:
        user = event.get("user", "")
        actor = Actor("slack", user, user)
        channel = event["channel"]
        thread = event.get("thread_ts") or event.get("ts")
        incident_id = await self._incident_of(event.get("thread_ts"))
        conversation = Conversation("slack", channel, thread, incident_id)
        reply = await self._dispatcher.run(
            strip_mentions(event.get("text", "")), actor=actor, conversation=conversation, raw=body
        )
        await self._answer(reply, channel=channel, thread=thread, user=user, respond=None)

    async def _on_error(self, error: Exception, body: dict[str, Any]) -> None:
        self._metrics.errors.labels(where="slack").inc()
        log.error("Slack request failed", exc_info=error, extra={"request": request_key(body)})

    async def _incident_of(self, *message_ids: str | None) -> int | None:
        async with self._database.unit_of_work() as uow:
            for message_id in message_ids:
                if message_id:
                    row = await uow.threads.find_by_message(platform="slack", message_id=message_id)
                    if row is not None:
                        return row.incident_id
        return None

    async def _answer(
        self,
        reply: Reply,
        *,
        channel: str,
        thread: str | None,
        user: str,
        respond: AsyncRespond | None,
    ) -> None:
        """Ephemeral answers to the asker alone; an incident's answers in its thread;
        everything else where it was asked."""
        try:
            if reply.visibility == "ephemeral":
                if respond is not None and respond.response_url:
                    await respond(
                        text=fallback_text(reply),
                        blocks=render_blocks(reply),
                        response_type="ephemeral",
                        replace_original=False,
                    )
                else:
                    await self._platform.post_ephemeral(
                        channel=channel, user=user, reply=reply, thread_id=thread
                    )
                return
            if reply.incident_id is not None and reply.visibility == "thread":
                async with self._database.unit_of_work() as uow:
                    row = await uow.threads.get(incident_id=reply.incident_id, platform="slack")
                if row is not None and row.thread_id:
                    channel, thread = row.channel, row.thread_id
            if thread:
                await self._platform.post_in_thread(channel=channel, thread_id=thread, reply=reply)
            else:
                await self._platform.post(channel=channel, reply=reply)
        except SlackApiError as error:
            self._metrics.errors.labels(where="slack").inc()
            log.error(
                "could not answer in Slack",
                extra={"channel": channel, "slack_error": error.response.get("error")},
            )
