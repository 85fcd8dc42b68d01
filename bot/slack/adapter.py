"""The Slack adapter: a slack-bolt AsyncApp that turns Slack requests into invocations.

Slash commands, button clicks (`block_actions`) and `@Lookout` mentions are acknowledged
at once (Slack wants an answer within 3 s) and then run as background tasks through the same
dispatcher as every other platform. Answers about an incident go to that incident's thread.
Before the acknowledgement only Bolt's signature check and the parsing of the request run:
who Lookout is in Slack (auth.test) is asked once for the process (`SlackIdentity`), and the
request is handed to its task as Bolt parsed it, not copied. That a retry
(`X-Slack-Retry-Num`) runs nothing is decided in the database by the task (`run_once`), so
it holds across replicas.

What Slack sends is read as its author meant it: escaping undone and markup read once
(`bot.slack.text`); a mention that was edited is the same message, so it never runs again;
bots and workflows act only when the config names them; people from another organisation
(Slack Connect) are marked so the dispatcher keeps them to viewing; names come from users.info.

A channel that refused Lookout's messages (not in it, archived, not found) holds them back
until Slack says it changed: Lookout joining it (`member_joined_channel` for its own user) or
its unarchiving (`channel_unarchive`, `group_unarchive`) sends what waited there.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from slack_bolt.adapter.starlette.async_handler import (
    to_async_bolt_request,
    to_starlette_response,
)
from slack_bolt.async_app import AsyncApp
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier

from bot.bodies import MAX_BODY, BodyTooLarge, read_body
from bot.metrics import Metrics
from bot.openapi_bodies import SLACK
from bot.settings import Settings
from bot.slack.answers import Asked, SlackAnswers
from bot.slack.identity import SlackIdentity
from bot.slack.people import Home, SlackPeople, bot_identity
from bot.slack.platform import SlackPlatform, web_client
from bot.slack.render import (
    ACTION_PREFIX,
    FORM_ACTION_PREFIX,
    FORM_CALLBACK,
    action_command,
    form_modal,
    submitted_values,
)
from bot.slack.replays import ReplayGuard
from bot.slack.requests import signature_headers_problem, slack_body_problem
from bot.slack.text import mentioned, mentioned_users, typed_text
from skills.contract import Actor, Context, Conversation, Mention, Reply, form_command
from skills.dispatcher import Dispatcher
from storage.database import Database

log = logging.getLogger(__name__)

COMMAND = "/lookout"
# Events that say a channel takes Lookout's messages again.
CHANNEL_BACK_EVENTS = ("member_joined_channel", "channel_unarchive", "group_unarchive")
# How long a stopping adapter lets commands already acknowledged finish their answers.
STOP_GRACE_SECONDS = 5.0
# Where the route leaves the replay guard's verdict for the listener (Bolt's request context).
REPLAY_CLAIM = "lookout_replay_claim"

Handler = Callable[[dict[str, Any], dict[str, Any], AsyncRespond, Any], Awaitable[None]]


def request_key(body: dict[str, Any]) -> str | None:
    """What identifies one Slack request across its retries — and, for a message, across
    its edits: an edited message arrives as a new event with the same channel and `ts`, so a
    message is known by those; commands and interactions by their trigger id."""
    event = body.get("event")
    if isinstance(event, dict) and event.get("channel") and event.get("ts"):
        return f"message:{event['channel']}:{event['ts']}"
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
        identity: SlackIdentity | None = None,
        signing_secret: str | None = None,
        on_change: Callable[[], None] = lambda: None,
    ) -> None:
        """`on_change` is called when messages held back may go out now (the notifier's
        wake)."""
        self.app = app
        self._on_change = on_change
        self._identity = identity
        self._tasks: set[asyncio.Task[None]] = set()
        self._platform = platform
        self._dispatcher = dispatcher
        self._database = database
        self._metrics = metrics
        self._app_token = app_token
        self._api_url = api_url
        self._verifier = SignatureVerifier(signing_secret) if signing_secret else None
        self._replays = ReplayGuard(database)
        self._socket_mode: Any = None
        self._incident_by_message: dict[str, int] = {}
        self._people = SlackPeople(platform, lambda: dispatcher.uses_groups)
        self._answers = SlackAnswers(platform, metrics, self._thread_of)
        app.command(COMMAND)(self._acknowledged(self._on_command))
        app.action(re.compile(f"^{ACTION_PREFIX}:"))(self._acknowledged(self._on_button))
        app.action(re.compile(f"^{FORM_ACTION_PREFIX}:"))(self._acknowledged(self._on_form))
        app.view(FORM_CALLBACK)(self._acknowledged(self._on_form_submitted))
        app.event("app_mention")(self._acknowledged(self._on_mention))
        for event in CHANNEL_BACK_EVENTS:
            app.event(event)(self._acknowledged(self._on_channel_back))
        app.error(self._on_error)

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        dispatcher: Dispatcher,
        database: Database,
        metrics: Metrics,
        on_change: Callable[[], None] = lambda: None,
    ) -> SlackAdapter:
        """The adapter as the settings describe it; `on_change` as for the constructor."""
        if settings.slack_bot_token is None or settings.slack_signing_secret is None:
            raise ValueError("Slack needs SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET")
        if not settings.slack_signing_secret.get_secret_value().strip():
            # Anyone can sign with an empty secret.
            raise ValueError("SLACK_SIGNING_SECRET is empty")
        token = settings.slack_bot_token.get_secret_value()
        platform = SlackPlatform(
            web_client(
                token, settings.slack_api_url, patient=False, timeout=settings.slack_timeout_seconds
            )
        )
        identity = SlackIdentity(platform.client, token)
        # Bolt's client carries no token: `identity` gives each request the bot token along
        # with the auth.test answer it keeps. The acknowledging listeners only start a task,
        # so they run before the response (no polling for the ack).
        app = AsyncApp(
            client=web_client(None, settings.slack_api_url, timeout=settings.slack_timeout_seconds),
            signing_secret=settings.slack_signing_secret.get_secret_value(),
            authorize=identity,  # type: ignore[arg-type]  # an AsyncAuthorize is taken as is
            process_before_response=True,
        )
        app_token = (
            settings.slack_app_token.get_secret_value() if settings.slack_app_token else None
        )
        return cls(
            app=app,
            platform=platform,
            identity=identity,
            dispatcher=dispatcher,
            database=database,
            metrics=metrics,
            app_token=app_token,
            api_url=settings.slack_api_url,
            signing_secret=settings.slack_signing_secret.get_secret_value(),
            on_change=on_change,
        )

    @property
    def platform(self) -> SlackPlatform:
        return self._platform

    def routes(self) -> APIRouter:
        router = APIRouter()

        @router.post("/slack/events", tags=["slack"], openapi_extra=SLACK)
        async def slack_events(request: Request) -> Response:
            """Slash commands, interactivity and the Events API (signed by Slack)."""
            try:
                body = await read_body(request)
            except BodyTooLarge:
                return JSONResponse({"detail": f"body is larger than {MAX_BODY} bytes"}, 413)
            problem = slack_body_problem(body, request.headers.get("content-type"))
            if problem is not None:
                return JSONResponse({"detail": problem}, 400)
            unreadable = signature_headers_problem(
                request.headers.get("x-slack-request-timestamp"),
                request.headers.get("x-slack-signature"),
            )
            if unreadable is not None:
                return JSONResponse({"detail": unreadable}, 401)
            refused, claim = self._replayed(request, body)
            if refused is not None:
                return refused
            bolt_request = to_async_bolt_request(request, body)
            bolt_request.context[REPLAY_CLAIM] = claim
            bolt_response = await self.app.async_dispatch(bolt_request)
            return to_starlette_response(bolt_response)

        return router

    def _replayed(
        self, request: Request, body: bytes
    ) -> tuple[Response | None, Awaitable[bool] | None]:
        """(refusal, claim): a 401 for a correctly signed request this process saw before
        (the same signature: the same timestamp and body); otherwise the database's verdict
        on its signature, which what the request runs awaits — it runs nothing when another
        replica recorded the signature first (`bot.slack.replays`), and the acknowledgement
        does not wait for it. Slack's own retries say so (`X-Slack-Retry-Num`) and pass: Bolt
        acknowledges them and the request id they share runs nothing twice."""
        if self._verifier is None or request.headers.get("x-slack-retry-num"):
            return None, None
        signature = request.headers.get("x-slack-signature", "")
        if not self._verifier.is_valid(
            body, request.headers.get("x-slack-request-timestamp", ""), signature
        ):
            return None, None  # Bolt answers 401 for it
        claim = self._replays.claim(signature)
        if claim is not None:
            return None, claim
        log.warning("refused a replayed Slack request")
        return JSONResponse({"detail": "this signed request was already received"}, 401), None

    async def start(self) -> None:
        # One pooled HTTP session for every Web API call; without it the SDK opens a new
        # connection per call, which costs more than the call under load.
        # The SDK applies its client's timeout only to sessions it makes, so this one gets it.
        self._platform.client.session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=self._platform.client.timeout)
        )
        await self._replays.start()
        if self._identity is not None:
            await self._identity.prepare()
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
        if self._tasks:
            _, pending = await asyncio.wait(set(self._tasks), timeout=STOP_GRACE_SECONDS)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        await self._replays.stop()
        session = self._platform.client.session
        if session is not None:
            self._platform.client.session = None
            await session.close()

    # Listeners. Bolt injects arguments by name.

    def _acknowledged(self, handler: Handler) -> Callable[..., Awaitable[None]]:
        """A listener that acknowledges the request and leaves `handler` to a task of its
        own: Slack gets its 200 as soon as the request is verified and parsed."""

        async def listener(
            ack: Callable[..., Awaitable[None]],
            body: dict[str, Any],
            payload: dict[str, Any],
            respond: AsyncRespond,
            context: Any,
        ) -> None:
            await ack()
            self._start(
                lambda: handler(body, payload, respond, context), body, context.get(REPLAY_CLAIM)
            )

        return listener

    def _start(
        self,
        work: Callable[[], Awaitable[None]],
        body: dict[str, Any],
        claim: Awaitable[bool] | None = None,
    ) -> None:
        task = asyncio.create_task(self._guarded(work, body, claim), name="lookout-slack-request")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _guarded(
        self,
        work: Callable[[], Awaitable[None]],
        body: dict[str, Any],
        claim: Awaitable[bool] | None,
    ) -> None:
        try:
            if claim is not None and not await claim:
                log.warning("ignored a replayed Slack request another replica received first")
                return
            await work()
        except Exception as error:
            await self._on_error(error, body)

    async def _on_command(
        self, body: dict[str, Any], _payload: dict[str, Any], respond: AsyncRespond, context: Any
    ) -> None:
        user = body["user_id"]
        actor = await self._people.person(
            user,
            home=Home.of(context),
            named=body.get("user_name"),
            teams=(body.get("user_team"), body.get("team_id")),
        )
        channel = body["channel_id"]
        conversation = Conversation("slack", channel)
        raw_text = str(body.get("text") or "")
        names = await self._people.names(raw_text)
        text = typed_text(raw_text, names=names)
        reply = await self._run(body, text, actor, conversation, mentioned(raw_text, names))
        if reply is not None:
            missing = self._people.missing(user, *mentioned_users(raw_text))
            if missing is not None:
                reply = dataclasses.replace(reply, blocks=[*reply.blocks, Context(missing)])
            await self._answers.send(reply, Asked(channel, None, user, respond))

    async def _on_button(
        self, body: dict[str, Any], action: dict[str, Any], respond: AsyncRespond, context: Any
    ) -> None:
        command = action_command(action)
        if command is None:
            log.warning("a Lookout button without a command", extra={"value": action.get("value")})
            return
        user = body["user"]
        actor = await self._people.person(
            user["id"],
            home=Home.of(context),
            named=user.get("username") or user.get("name"),
            teams=(user.get("team_id"),),
        )
        container = body.get("container", {})
        channel = container.get("channel_id") or body.get("channel", {}).get("id", "")
        message = body.get("message", {})
        message_ts = container.get("message_ts") or message.get("ts")
        thread = message.get("thread_ts") or message_ts
        incident_id = await self._incident_of(message_ts, thread)
        conversation = Conversation("slack", channel, thread, incident_id)
        reply = await self._run(body, command, actor, conversation, await self._mentions(command))
        if reply is not None:
            await self._answers.send(reply, Asked(channel, thread, actor.user_id, respond))

    async def _on_form(
        self, body: dict[str, Any], action: dict[str, Any], _respond: AsyncRespond, _context: Any
    ) -> None:
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

    async def _on_form_submitted(
        self, body: dict[str, Any], view: dict[str, Any], _respond: AsyncRespond, context: Any
    ) -> None:
        """A submitted modal: its command with the fields filled in, run as the submitter,
        answered where the form was shown."""
        try:
            form = json.loads(view.get("private_metadata") or "")
            command = form_command(
                str(form["command"]), list(form["names"]), submitted_values(view)
            )
        except (KeyError, TypeError, ValueError):
            log.warning("a view submission that is not a Lookout form")
            return
        user = body["user"]
        actor = await self._people.person(
            user["id"],
            home=Home.of(context),
            named=user.get("username") or user.get("name"),
            teams=(user.get("team_id"),),
        )
        channel = str(form.get("channel") or "")
        thread = form.get("thread")
        incident = form.get("incident")
        conversation = Conversation(
            "slack", channel, thread, incident if isinstance(incident, int) else None
        )
        reply = await self._run(body, command, actor, conversation)
        if reply is not None and channel:
            await self._answers.send(reply, Asked(channel, thread, actor.user_id))

    async def _on_mention(
        self, body: dict[str, Any], event: dict[str, Any], _respond: AsyncRespond, context: Any
    ) -> None:
        actor = await self._mention_actor(event, context)
        if actor is None:
            return
        channel = event["channel"]
        thread = event.get("thread_ts") or event.get("ts")
        incident_id = await self._incident_of(event.get("thread_ts"))
        conversation = Conversation("slack", channel, thread, incident_id)
        raw_text = str(event.get("text") or "")
        bot_user = getattr(context, "bot_user_id", None)
        names = await self._people.names(raw_text, skip=bot_user)
        text = typed_text(raw_text, names=names, drop_user=bot_user)
        mentions = mentioned(raw_text, names, skip=bot_user)
        reply = await self._run(body, text, actor, conversation, mentions)
        if reply is not None:
            await self._answers.send(reply, Asked(channel, thread, actor.user_id))

    async def _on_channel_back(
        self, _body: dict[str, Any], event: dict[str, Any], _respond: AsyncRespond, context: Any
    ) -> None:
        """Lookout joined a channel, or a channel was unarchived: the messages given up on
        there get tried again, by every name routing may use for it."""
        channel = str(event.get("channel") or "")
        if not channel:
            return
        if event.get("type") == "member_joined_channel":
            bot_user = getattr(context, "bot_user_id", None)
            if not bot_user or event.get("user") != bot_user:
                return  # someone else joined
        names = await self._platform.channel_names(channel)
        async with self._database.unit_of_work() as uow:
            cards = await uow.threads.retry_in(platform="slack", channels=names)
            messages = await uow.messages.retry_in(platform="slack", channels=names)
        if cards or messages:
            log.info(
                "a Slack channel takes Lookout's messages again",
                extra={"channel": channel, "event": event.get("type"), "held": cards + messages},
            )
            self._on_change()

    async def _mention_actor(self, event: dict[str, Any], context: Any) -> Actor | None:
        """Who wrote the mention; None when it is a bot or workflow the config does not let
        act (it gets no answer either: two bots answering each other never stop)."""
        bot = bot_identity(event)
        if bot is not None:
            bot_id, name = bot
            if not self._dispatcher.access.allows_bot(bot_id):
                log.info("ignoring a mention from a bot", extra={"bot_id": bot_id})
                return None
            return Actor("slack", bot_id, name, bot=True)
        profile = event.get("user_profile") or {}
        return await self._people.person(
            str(event["user"]),
            home=Home.of(context),
            named=profile.get("display_name") or profile.get("real_name") or profile.get("name"),
            teams=(event.get("user_team"), event.get("source_team"), profile.get("team")),
        )

    async def _run(
        self,
        body: dict[str, Any],
        text: str,
        actor: Actor,
        conversation: Conversation,
        mentions: tuple[Mention, ...] = (),
    ) -> Reply | None:
        """Run through the dispatcher; a retried delivery (X-Slack-Retry-Num) of a request
        already taken finds its id recorded and runs nothing."""
        key = request_key(body)
        if key is None:
            return await self._dispatcher.run(
                text, actor=actor, conversation=conversation, raw=body, mentions=mentions
            )
        return await self._dispatcher.run_once(
            key, text, actor=actor, conversation=conversation, raw=body, mentions=mentions
        )

    async def _mentions(self, command: str) -> tuple[Mention, ...]:
        """The people a button's or menu's command mentions (a picked person), named."""
        return mentioned(command, await self._people.names(command))

    async def _on_error(self, error: Exception, body: dict[str, Any]) -> None:
        self._metrics.errors.labels(where="slack").inc()
        log.error("Slack request failed", exc_info=error, extra={"request": request_key(body)})

    async def _incident_of(self, *message_ids: str | None) -> int | None:
        """The incident whose root message (or its thread) these Slack messages are."""
        wanted = [message_id for message_id in message_ids if message_id]
        for message_id in wanted:
            if message_id in self._incident_by_message:
                return self._incident_by_message[message_id]
        async with self._database.reading() as uow:
            for message_id in wanted:
                row = await uow.threads.find_by_message(platform="slack", message_id=message_id)
                if row is not None:
                    self._remember(row.incident_id, message_id)
                    return row.incident_id
        return None

    async def _thread_of(self, incident_id: int) -> tuple[str, str] | None:
        """The incident's root message as (channel, thread ts), once it has been posted (read
        each time: a card that was deleted is posted again, in a new thread)."""
        async with self._database.reading() as uow:
            row = await uow.threads.get(incident_id=incident_id, platform="slack")
        if row is None or not row.thread_id:
            return None
        self._remember(row.incident_id, row.thread_id)
        return row.channel, row.thread_id

    def _remember(self, incident_id: int, message_id: str | None) -> None:
        """Which incident a root message is about never changes, so it is safe to keep."""
        if message_id is None:
            return
        if len(self._incident_by_message) > 10_000:
            self._incident_by_message.clear()
        self._incident_by_message[message_id] = incident_id
