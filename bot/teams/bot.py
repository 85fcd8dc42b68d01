"""The Teams bot: every typed command, card submit and card invoke runs the one dispatcher.

`@Lookout ack INC-3` in a channel, `ack INC-3` in a 1:1 chat, and a click on the card's
Acknowledge button all become `dispatcher.run("ack INC-3", …)`.

An edited message arrives as `messageUpdate`, which runs nothing. Another bot's message runs
only when the config names that bot. When Teams says Lookout was removed from a team, chat
or channel, that conversation is marked gone (and not saved again from that same event);
when Lookout is added back, it is saved anew and the messages given up on there are retried.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime

from botbuilder.core import InvokeResponse, TurnContext
from botbuilder.core.teams import TeamsActivityHandler
from botbuilder.schema import Activity, ActivityTypes

from bot.platforms import DeliveryError, PostedMessage, RateLimited
from bot.teams import activities
from bot.teams.activities import PLATFORM
from bot.teams.people import TeamsPeople, is_bot_sender
from bot.teams.platform import TeamsPlatform
from bot.teams.render import command_from_value, render_activity
from bot.teams.retry import RetryPolicy, own_the_retries
from skills.contract import Context, Conversation, Reply
from skills.dispatcher import Dispatcher
from skills.pointer import pointer_reply
from storage.database import Database

log = logging.getLogger(__name__)


class LookoutTeamsBot(TeamsActivityHandler):  # type: ignore[misc]
    def __init__(
        self,
        *,
        dispatcher: Dispatcher,
        database: Database,
        platform: TeamsPlatform,
        retry: RetryPolicy,
        people: TeamsPeople | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        on_change: Callable[[], None] = lambda: None,
    ) -> None:
        """`on_change` is called when messages given up on may go out now (Lookout was added
        back to a conversation)."""
        super().__init__()
        self._on_change = on_change
        self._dispatcher = dispatcher
        self._database = database
        self._platform = platform
        self._retry = retry
        self._people = people or TeamsPeople(tenant_id=None)
        self._clock = clock

    async def on_turn(self, turn_context: TurnContext) -> None:
        """Remember where we were spoken to (first message, install, every later activity:
        Teams may move a conversation to another service URL) — or, on a removal, forget
        it — then dispatch by type."""
        own_the_retries(turn_context)
        activity = turn_context.activity
        removed = activities.removed_keys(activity)
        if removed:
            await self._removed(removed, activity)
        else:
            await self._remember(activities.captured_references(activity))
        await super().on_turn(turn_context)

    async def _remember(self, captured: list[activities.CapturedReference]) -> None:
        if not captured:
            return
        restored: list[str] = []
        async with self._database.unit_of_work() as uow:
            for reference in captured:
                before = await uow.conversations.get(platform=PLATFORM, key=reference.key)
                if before is not None and before.removed_at is not None:
                    restored += [reference.key, *filter(None, [before.name, reference.name])]
                await uow.conversations.save(
                    platform=PLATFORM,
                    key=reference.key,
                    reference=reference.reference,
                    name=reference.name,
                    now=self._clock(),
                )
            if restored:
                # Messages given up on there are worth one more try now.
                names = [*restored, *(f"#{name}" for name in restored)]
                await uow.threads.retry_in(platform=PLATFORM, channels=names)
                await uow.messages.retry_in(platform=PLATFORM, channels=names)
        if restored:
            log.info("Lookout was added back to a Teams conversation", extra={"keys": restored})
            self._on_change()

    async def _removed(self, keys: list[str], activity: Activity) -> None:
        data = activity.channel_data if isinstance(activity.channel_data, dict) else {}
        reason = str(activity.action or data.get("eventType") or "BotNotInConversationRoster")
        async with self._database.unit_of_work() as uow:
            for key in keys:
                await uow.conversations.mark_removed(
                    platform=PLATFORM, key=key, reason=reason, now=self._clock()
                )
        log.warning("Lookout was removed from Teams conversations", extra={"keys": keys})

    async def on_message_activity(self, turn_context: TurnContext) -> None:
        activity = turn_context.activity
        if is_bot_sender(activity) and not self._dispatcher.access.allows_bot(
            str(activity.from_property.id)
        ):
            log.info("ignoring a message from a bot", extra={"bot": activity.from_property.id})
            return
        if activity.value is not None and not (activity.text or "").strip():
            # A card's Action.Submit arrives as a message whose `value` is the button's data.
            command = command_from_value(activity.value)
            if command is None:
                log.info("ignoring a card submit that is not from a Lookout button")
                return
        else:
            command = activities.command_text(activity)
        await self.run(turn_context, command)

    async def on_teams_card_action_invoke(self, turn_context: TurnContext) -> InvokeResponse:
        """An invoke with no name: a card action posted as an invoke; answer it with 200."""
        command = command_from_value(turn_context.activity.value)
        if command is not None:
            await self.run(turn_context, command)
        return InvokeResponse(status=200)

    async def on_adaptive_card_invoke(
        self, turn_context: TurnContext, invoke_value: object
    ) -> None:
        """Action.Execute (`adaptiveCard/action`): run the command, post the reply in the
        thread, and answer the invoke with a message Teams shows on the card.

        The answer is sent here rather than returned: the SDK's AdaptiveCardInvokeResponse
        model types `value` as an object and cannot serialize the message string."""
        command = command_from_value(turn_context.activity.value)
        if command is None:
            body: dict[str, object] = {
                "statusCode": 400,
                "type": "application/vnd.microsoft.error",
                "value": {"code": "BadRequest", "message": "not a Lookout button"},
            }
        else:
            reply = await self.run(turn_context, command)
            body = {
                "statusCode": 200,
                "type": "application/vnd.microsoft.activity.message",
                "value": reply.plain_text.split("\n", 1)[0] if reply else "Done.",
            }
        await turn_context.send_activity(
            Activity(
                type=ActivityTypes.invoke_response, value=InvokeResponse(status=200, body=body)
            )
        )

    async def run(self, turn_context: TurnContext, command: str) -> Reply | None:
        """Run `command` as the sender, and answer; None when Teams redelivered an activity
        whose command already ran (the dispatcher records its id with the skill's work)."""
        activity = turn_context.activity
        conversation = Conversation(
            platform=PLATFORM,
            channel=activities.conversation_key(activity),
            thread=activities.thread_root(activity),
            incident_id=await self._incident_for(activity),
        )
        actor = await self._people.actor(turn_context)
        if is_bot_sender(activity):
            actor = replace(actor, user_id=str(activity.from_property.id), bot=True)
        raw = activity.serialize()
        mentions = activities.mentions(activity)
        request = activities.request_id(activity)
        reply: Reply | None
        if request is None:
            reply = await self._dispatcher.run(
                command, actor=actor, conversation=conversation, raw=raw, mentions=mentions
            )
        else:
            reply = await self._dispatcher.run_once(
                request,
                command,
                actor=actor,
                conversation=conversation,
                raw=raw,
                mentions=mentions,
            )
            if reply is None:
                log.info("ignoring a redelivered Teams activity", extra={"request": request})
                return None
        if (missing := self._people.missing(activity)) is not None:
            reply = replace(reply, blocks=[*reply.blocks, Context(missing)])
        await self._answer(turn_context, reply)
        return reply

    async def _incident_for(self, activity: Activity) -> int | None:
        """The incident whose card this is about: a submit's `replyToId` is the card; a message
        in a reply chain names the chain's root post in its conversation id."""
        candidates = [activity.reply_to_id, activities.thread_root(activity)]
        async with self._database.unit_of_work() as uow:
            for message_id in filter(None, candidates):
                row = await uow.threads.find_by_message(platform=PLATFORM, message_id=message_id)
                if row is not None:
                    return row.incident_id
        return None

    async def _answer(self, turn_context: TurnContext, reply: Reply) -> None:
        """An answer about an incident, given in a channel, goes to that incident card's reply
        chain; anything else is a reply where the command was given — and so is an answer
        whose card thread Teams refuses (the card deleted, Lookout removed from there).
        Ephemeral answers too: Teams channels cannot show a message to one person only, so
        they stay short."""
        card_thread = await self._card_thread_elsewhere(turn_context.activity, reply)
        if card_thread is not None:
            channel, root = card_thread
            try:
                posted = await self._platform.post_in_thread(
                    channel=channel, thread_id=root, reply=reply, wait=True
                )
            except (DeliveryError, RateLimited) as error:
                log.warning(
                    "could not answer in the incident's thread; answering where asked",
                    extra={"channel": channel, "error": repr(error)},
                )
            else:
                await self._point(turn_context, reply, channel, posted)
                return
        await self._retry.run(
            lambda: turn_context.send_activity(render_activity(reply)), what="reply"
        )

    async def _point(
        self, turn_context: TurnContext, reply: Reply, channel: str, posted: PostedMessage
    ) -> None:
        """One line where it was asked, with a deep link to the answer in the card's thread."""
        assert reply.incident_id is not None
        link = await self._platform.message_link(
            channel=channel, message_id=posted.message_id, thread_id=posted.thread_id
        )
        pointer = pointer_reply(reply.incident_id, link=link)
        await self._retry.run(
            lambda: turn_context.send_activity(render_activity(pointer)), what="pointer"
        )

    async def _card_thread_elsewhere(
        self, activity: Activity, reply: Reply
    ) -> tuple[str, str] | None:
        """(channel key, root post id) of the incident's card, unless we are already there."""
        if (
            reply.incident_id is None
            or reply.visibility == "ephemeral"
            or not activities.is_channel(activity)
        ):
            return None
        async with self._database.unit_of_work() as uow:
            row = await uow.threads.get(incident_id=reply.incident_id, platform=PLATFORM)
        if row is None or row.message_id is None:
            return None
        if row.message_id in (activity.reply_to_id, activities.thread_root(activity)):
            return None
        return row.channel, row.thread_id or row.message_id
