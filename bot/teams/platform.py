"""Teams as a ChatPlatform: proactive posts through stored conversation references.

A post starts a new thread in the channel (POST …/conversations/{channel}/activities), an
update replaces that card in place (PUT …/activities/{id}), and a thread reply goes to the
channel's `{channel};messageid={root}` conversation — the Bot Connector REST API, reached
through botbuilder's CloudAdapter.continue_conversation and its connector client.

Errors are read by Microsoft's table (`bot.teams.errors`). A conversation Lookout was removed
from is marked so (until Teams introduces it again) and nothing more is sent there. The
notifier's calls never sleep: a 429 blocks that conversation and call (`RateLimited`); an
answer to a person (`wait=True`) retries as `RetryPolicy` says.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Awaitable, Callable
from copy import copy
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import quote, urlencode

from botbuilder.core import TurnContext
from botbuilder.integration.aiohttp import CloudAdapter
from botbuilder.schema import (
    Activity,
    ChannelAccount,
    ConversationParameters,
    ConversationReference,
    Mention,
)

from bot.platforms import DeliveryError, PostedMessage, RateLimited, RateLimits
from bot.teams.activities import PLATFORM, THREAD_MARK
from bot.teams.errors import CONVERSATION_GONE, delivery_error
from bot.teams.render import render_activity
from bot.teams.retry import RetryPolicy, own_the_retries
from skills.contract import Reply
from storage.database import Database

T = TypeVar("T")
log = logging.getLogger(__name__)


class NoConversationError(LookupError):
    """Teams has not introduced Lookout to that channel yet, so it cannot post there."""


class TeamsPlatform:
    name = PLATFORM

    def __init__(
        self,
        *,
        adapter: CloudAdapter,
        app_id: str | None,
        database: Database,
        retry: RetryPolicy,
        rate_limits: RateLimits | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._adapter = adapter
        self._app_id = app_id
        self._database = database
        self._retry = retry
        self.rate_limits = rate_limits or RateLimits()
        self._clock = clock

    async def post(
        self, *, channel: str, reply: Reply, intent: str | None = None, wait: bool = False
    ) -> PostedMessage:
        key, reference = await self._reference(channel)
        activity = self._addressed(render_activity(reply), reference, reference.conversation.id)
        response = await self._send(key, reference, activity, what="post", wait=wait)
        return PostedMessage(message_id=response.id, thread_id=response.id, channel=key)

    async def update(
        self, *, channel: str, message_id: str, reply: Reply, wait: bool = False
    ) -> None:
        key, reference = await self._reference(channel)
        activity = self._addressed(render_activity(reply), reference, reference.conversation.id)
        activity.id = message_id

        async def put(client: Any) -> Any:
            return await client.conversations.update_activity(
                activity.conversation.id, message_id, activity
            )

        await self._connector_call(
            key,
            reference,
            put,
            what="update",
            scope=activity.conversation.id,
            wait=wait,
            about_message=True,
        )

    async def post_in_thread(
        self, *, channel: str, thread_id: str, reply: Reply, wait: bool = False
    ) -> PostedMessage:
        key, reference = await self._reference(channel)
        conversation_id = reference.conversation.id
        threaded = reference.conversation.conversation_type == "channel"
        if threaded:
            conversation_id = f"{conversation_id.split(THREAD_MARK, 1)[0]}{THREAD_MARK}{thread_id}"
        activity = self._addressed(render_activity(reply), reference, conversation_id)
        response = await self._send(
            key, reference, activity, what="thread reply", wait=wait, about_message=threaded
        )
        return PostedMessage(message_id=response.id, thread_id=thread_id, channel=key)

    async def message_link(self, *, channel: str, message_id: str, thread_id: str) -> str | None:
        """A Teams deep link to a reply in a channel's reply chain (learn.microsoft.com/
        microsoftteams/platform/concepts/build-and-test/deep-link-teams, "Deep link to a
        chat or channel message"): `https://teams.microsoft.com/l/message/<channel id>/
        <message id>?tenantId=…&parentMessageId=<root>`; None for an unknown conversation."""
        try:
            _, reference = await self._reference(channel)
        except (DeliveryError, NoConversationError):
            return None
        channel_id = str(reference.conversation.id or "").split(THREAD_MARK, 1)[0]
        if not channel_id:
            return None
        query = {"parentMessageId": thread_id, "createdTime": message_id}
        if reference.conversation.tenant_id:
            query["tenantId"] = str(reference.conversation.tenant_id)
        return (
            f"https://teams.microsoft.com/l/message/{quote(channel_id, safe='')}/"
            f"{quote(message_id, safe='')}?{urlencode(query)}"
        )

    async def direct_message(self, *, user: str, reply: Reply) -> PostedMessage:
        """Start (or find) the 1:1 chat with `user` (their Teams or Azure AD object id) and
        post `reply` there: the Bot Connector's create-conversation call, made through a
        conversation Lookout knows in the same tenant."""
        reference = await self._any_reference()
        tenant = reference.conversation.tenant_id
        parameters = ConversationParameters(
            is_group=False,
            bot=reference.bot,
            members=[ChannelAccount(id=user)],
            tenant_id=tenant,
            channel_data={"tenant": {"id": tenant}} if tenant else None,
        )

        async def create(client: Any) -> Any:
            return await client.conversations.create_conversation(parameters)

        key = reference.conversation.id
        created = await self._connector_call(
            key, reference, create, what="direct message", scope=f"user:{user}", wait=True
        )
        if created is None or not created.id:
            raise RuntimeError("the Bot Connector opened no conversation for the direct message")
        activity = self._addressed(render_activity(reply), reference, created.id)
        activity.conversation.conversation_type = "personal"
        response = await self._send(key, reference, activity, what="direct message", wait=True)
        return PostedMessage(message_id=response.id, thread_id=response.id, channel=created.id)

    async def mention(
        self, *, channel: str, thread_id: str | None, user: str, name: str, reply: Reply
    ) -> PostedMessage:
        """Post `reply` in the thread with `user` @mentioned (a Teams mention entity)."""
        key, reference = await self._reference(channel)
        conversation_id = reference.conversation.id
        if thread_id and reference.conversation.conversation_type == "channel":
            conversation_id = f"{conversation_id.split(THREAD_MARK, 1)[0]}{THREAD_MARK}{thread_id}"
        activity = self._addressed(render_activity(reply), reference, conversation_id)
        tag = f"<at>{html.escape(name)}</at>"
        activity.text = f"{tag} {activity.text or ''}".strip()
        activity.entities = [
            Mention(mentioned=ChannelAccount(id=user, name=name), text=tag, type="mention")
        ]
        response = await self._send(
            key, reference, activity, what="mention", wait=True, about_message=bool(thread_id)
        )
        return PostedMessage(
            message_id=response.id, thread_id=thread_id or response.id, channel=key
        )

    async def _any_reference(self) -> ConversationReference:
        async with self._database.unit_of_work() as uow:
            rows = await uow.conversations.all(platform=PLATFORM)
        if not rows:
            raise NoConversationError(
                "Lookout knows no Teams conversation yet, so it cannot reach anyone directly: "
                "add the Lookout app to a team first."
            )
        return ConversationReference().deserialize(rows[0].reference)

    async def find_posted(
        self, *, channel: str, intent: str, since: datetime
    ) -> PostedMessage | None:
        """The Bot Connector cannot list a conversation's activities, so a post whose
        outcome a crash hid cannot be found again: None (it is posted anew)."""
        return None

    async def _reference(self, channel: str) -> tuple[str, ConversationReference]:
        async with self._database.unit_of_work() as uow:
            row = await uow.conversations.find(platform=PLATFORM, key_or_name=channel)
            if row is None:
                raise NoConversationError(
                    f"Lookout knows no Teams conversation {channel!r} yet: add the Lookout app "
                    "to that team (or @mention Lookout in that channel) so Teams introduces "
                    "it, or route to a channel id Lookout has seen."
                )
            if row.removed_at is not None:
                code = row.removed_reason or "removed"
                raise DeliveryError(
                    f"Lookout was removed from the Teams conversation {channel!r} ({code})",
                    gone="conversation",
                    code=code,
                    channel=row.key,
                    hint=CONVERSATION_GONE.get(code, "add the Lookout app there again"),
                )
            return row.key, ConversationReference().deserialize(row.reference)

    async def _forget(self, key: str, reason: str) -> None:
        """Teams says Lookout is no longer in that conversation: send nothing more there
        until it is introduced again (an install or a message saves it anew)."""
        async with self._database.unit_of_work() as uow:
            if await uow.conversations.mark_removed(
                platform=PLATFORM, key=key, reason=reason, now=self._clock()
            ):
                log.warning(
                    "Lookout was removed from a Teams conversation",
                    extra={"conversation": key, "reason": reason},
                )

    @staticmethod
    def _addressed(
        activity: Activity, reference: ConversationReference, conversation_id: str
    ) -> Activity:
        TurnContext.apply_conversation_reference(activity, reference)
        activity.conversation = copy(reference.conversation)
        activity.conversation.id = conversation_id
        return activity

    async def _send(
        self,
        key: str,
        reference: ConversationReference,
        activity: Activity,
        *,
        what: str,
        wait: bool,
        about_message: bool = False,
    ) -> Any:
        async def send(client: Any) -> Any:
            return await client.conversations.send_to_conversation(
                activity.conversation.id, activity
            )

        response = await self._connector_call(
            key,
            reference,
            send,
            what=what,
            scope=activity.conversation.id,
            wait=wait,
            about_message=about_message,
        )
        if response is None or not response.id:
            raise RuntimeError(f"the Bot Connector accepted the {what} but gave no activity id")
        return response

    async def _connector_call(
        self,
        key: str,
        reference: ConversationReference,
        call: Callable[[Any], Awaitable[T]],
        *,
        what: str,
        scope: str,
        wait: bool,
        about_message: bool = False,
    ) -> T:
        """Run `call(connector_client)` inside a proactive turn for `reference`.

        The connector is called directly rather than through `turn_context.send_activity`,
        which would make a new post a reply to the continuation event. `scope` is the
        conversation the call writes to: rate limits apply per scope and call.
        """
        if not wait:
            self.rate_limits.check(channel=scope, method=what)
        results: list[T] = []

        async def in_turn(turn_context: TurnContext) -> None:
            client = own_the_retries(turn_context)
            if wait:
                results.append(await self._retry.run(lambda: call(client), what=what))
            else:
                results.append(await call(client))

        try:
            await self._adapter.continue_conversation(reference, in_turn, bot_app_id=self._app_id)
        except Exception as error:
            meaning = delivery_error(
                error, what=what, method=what, channel=scope, about_message=about_message
            )
            if isinstance(meaning, RateLimited):
                self.rate_limits.block(channel=scope, method=what, seconds=meaning.retry_after)
                raise meaning from error
            if isinstance(meaning, DeliveryError):
                if meaning.gone == "conversation":
                    await self._forget(key, meaning.code or "removed")
                    meaning.channel = key
                raise meaning from error
            raise
        if not results:
            raise RuntimeError(f"the Teams {what} did not run")
        return results[0]
