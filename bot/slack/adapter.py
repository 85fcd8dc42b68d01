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
from typing import Any

import aiohttp
from fastapi import APIRouter, Request, Response
from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.errors import SlackApiError

from bot.metrics import Metrics
from bot.settings import Settings
from bot.slack.platform import SlackPlatform, web_client
from bot.slack.render import (
    ACTION_PREFIX,
    FORM_ACTION_PREFIX,
    FORM_CALLBACK,
    fallback_text,
    form_modal,
    render_blocks,
    submitted_values,
)
from skills.contract import Actor, Conversation, Reply, form_command
from skills.dispatcher import Dispatcher
from storage.database import Database

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
        api_url: str | None = None,
    ) -> None:
        self.app = app
        self._platform = platform
        self._dispatcher = dispatcher
        self._database = database
        self._metrics = metrics
        self._app_token = app_token
        self._api_url = api_url
        self._handler = AsyncSlackRequestHandler(app)
        self._socket_mode: Any = None
        self._thread_by_incident: dict[int, tuple[str, str]] = {}
        self._incident_by_message: dict[str, int] = {}
        app.command(COMMAND)(ack=self._ack, lazy=[self._on_command])
        app.action(re.compile(f"^{ACTION_PREFIX}:"))(ack=self._ack, lazy=[self._on_button])
        app.action(re.compile(f"^{FORM_ACTION_PREFIX}:"))(ack=self._ack, lazy=[self._on_form])
        app.view(FORM_CALLBACK)(ack=self._ack, lazy=[self._on_form_submitted])
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
        token = settings.slack_bot_token.get_secret_value()
        # Two clients: Bolt deep-copies its own into every lazy request (so it cannot hold a
        # pooled session); Lookout's posting goes through the platform's, which does.
        app = AsyncApp(
            client=web_client(token, settings.slack_api_url),
            signing_secret=settings.slack_signing_secret.get_secret_value(),
            process_before_response=False,
        )
        app_token = (
            settings.slack_app_token.get_secret_value() if settings.slack_app_token else None
        )
        return cls(
            app=app,
            platform=SlackPlatform(web_client(token, settings.slack_api_url)),
            dispatcher=dispatcher,
            database=database,
            metrics=metrics,
            app_token=app_token,
            api_url=settings.slack_api_url,
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
        # One pooled HTTP session for every Web API call; without it the SDK opens a new
        # connection per call, which costs more than the call under load.
        self._platform.client.session = aiohttp.ClientSession()
        if self._app_token:
            from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

            self._socket_mode = AsyncSocketModeHandler(
                self.app, self._app_token, web_client=web_client(self._app_token, self._api_url)
            )
            await self._socket_mode.connect_async()
            log.info("Slack Socket Mode connected")

    async def stop(self) -> None:
        if self._socket_mode is not None:
            await self._socket_mode.close_async()
            self._socket_mode = None
        session = self._platform.client.session
        if session is not None:
            self._platform.client.session = None
            await session.close()

    # Middleware and listeners. Bolt injects arguments by name.

    @staticmethod
    async def _ack(ack: Callable[..., Awaitable[None]]) -> None:
        await ack()

    async def _on_command(self, body: dict[str, Any], respond: AsyncRespond) -> None:
        actor = Actor("slack", body["user_id"], body.get("user_name") or body["user_id"])
        channel = body["channel_id"]
        conversation = Conversation("slack", channel)
        reply = await self._run(body, body.get("text", ""), actor, conversation)
        if reply is not None:
            await self._answer(
                reply, channel=channel, thread=None, user=actor.user_id, respond=respond
            )

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

    async def _on_form(self, body: dict[str, Any], action: dict[str, Any]) -> None:
        """A form's button: open its modal, remembering where the form was shown."""
        try:
            spec = json.loads(action["value"])["form"]
            command = str(spec["command"])
        except (KeyError, TypeError, ValueError):
            log.warning(
                "a Lookout form button without a form", extra={"value": action.get("value")}
            )
            return
        container = body.get("container", {})
        channel = container.get("channel_id") or body.get("channel", {}).get("id", "")
        message = body.get("message", {})
        message_ts = container.get("message_ts") or message.get("ts")
        thread = message.get("thread_ts") or container.get("thread_ts") or message_ts
        metadata = json.dumps(
            {
                "command": command,
                "names": [str(field["name"]) for field in spec.get("inputs", [])],
                "channel": channel,
                "thread": thread,
                "incident": await self._incident_of(message_ts, thread),
            }
        )
        try:
            await self._platform.client.views_open(
                trigger_id=body["trigger_id"], view=form_modal(spec, metadata)
            )
        except SlackApiError as error:
            self._metrics.errors.labels(where="slack").inc()
            log.error("could not open a form", extra={"slack_error": error.response.get("error")})

    async def _on_form_submitted(self, body: dict[str, Any], view: dict[str, Any]) -> None:
        """A submitted modal: its command with the fields filled in, run as the submitter,
        answered where the form was shown."""
        try:
            context = json.loads(view.get("private_metadata") or "")
            command = form_command(
                str(context["command"]), list(context["names"]), submitted_values(view)
            )
        except (KeyError, TypeError, ValueError):
            log.warning("a view submission that is not a Lookout form")
            return
        user = body["user"]
        actor = Actor("slack", user["id"], user.get("username") or user.get("name") or user["id"])
        channel = str(context.get("channel") or "")
        thread = context.get("thread")
        incident = context.get("incident")
        conversation = Conversation(
            "slack", channel, thread, incident if isinstance(incident, int) else None
        )
        reply = await self._run(body, command, actor, conversation)
        if reply is not None and channel:
            await self._answer(
                reply, channel=channel, thread=thread, user=actor.user_id, respond=None
            )

    async def _on_mention(self, event: dict[str, Any], body: dict[str, Any]) -> None:
        user = event.get("user", "")
        actor = Actor("slack", user, user)
        channel = event["channel"]
        thread = event.get("thread_ts") or event.get("ts")
        incident_id = await self._incident_of(event.get("thread_ts"))
        conversation = Conversation("slack", channel, thread, incident_id)
        reply = await self._run(body, strip_mentions(event.get("text", "")), actor, conversation)
        if reply is not None:
            await self._answer(reply, channel=channel, thread=thread, user=user, respond=None)

    async def _run(
        self, body: dict[str, Any], text: str, actor: Actor, conversation: Conversation
    ) -> Reply | None:
        """Run through the dispatcher; a retried delivery (X-Slack-Retry-Num) of a request
        already taken finds its id recorded and runs nothing."""
        key = request_key(body)
        if key is None:
            return await self._dispatcher.run(
                text, actor=actor, conversation=conversation, raw=body
            )
        return await self._dispatcher.run_once(
            key, text, actor=actor, conversation=conversation, raw=body
        )

    async def _on_error(self, error: Exception, body: dict[str, Any]) -> None:
        self._metrics.errors.labels(where="slack").inc()
        log.error("Slack request failed", exc_info=error, extra={"request": request_key(body)})

    async def _incident_of(self, *message_ids: str | None) -> int | None:
        """The incident whose root message (or its thread) these Slack messages are."""
        wanted = [message_id for message_id in message_ids if message_id]
        for message_id in wanted:
            if message_id in self._incident_by_message:
                return self._incident_by_message[message_id]
        async with self._database.unit_of_work() as uow:
            for message_id in wanted:
                row = await uow.threads.find_by_message(platform="slack", message_id=message_id)
                if row is not None:
                    self._remember(row.incident_id, row.channel, row.thread_id)
                    return row.incident_id
        return None

    async def _thread_of(self, incident_id: int) -> tuple[str, str] | None:
        """The incident's root message as (channel, thread ts), once it has been posted."""
        if incident_id not in self._thread_by_incident:
            async with self._database.unit_of_work() as uow:
                row = await uow.threads.get(incident_id=incident_id, platform="slack")
            if row is None or not row.thread_id:
                return None
            self._remember(incident_id, row.channel, row.thread_id)
        return self._thread_by_incident[incident_id]

    def _remember(self, incident_id: int, channel: str, thread_id: str | None) -> None:
        """Root messages never move once posted, so their ids are safe to keep in memory."""
        if thread_id is None:
            return
        if len(self._thread_by_incident) > 10_000:
            self._thread_by_incident.clear()
            self._incident_by_message.clear()
        self._thread_by_incident[incident_id] = (channel, thread_id)
        self._incident_by_message[thread_id] = incident_id

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
                found = await self._thread_of(reply.incident_id)
                if found is not None:
                    channel, thread = found
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
