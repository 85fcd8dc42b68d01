"""The console platform: a local chat page backed by the database, with live updates (SSE)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from bot.console.render import render_reply
from bot.platforms import DeliveryError, PostedMessage
from skills.contract import Reply, Text
from skills.markup import literal
from storage.database import Database
from storage.models import ConsoleMessageRow

BOT_NAME = "Lookout"


def message_json(row: ConsoleMessageRow, reply_count: int = 0) -> dict[str, Any]:
    return {
        "id": f"m-{row.id}",
        "channel": row.channel,
        "thread_id": f"m-{row.thread_id}" if row.thread_id else None,
        "author": row.author,
        "author_kind": row.author_kind,
        "created_at": row.created_at.isoformat(),
        "updated_at": row.updated_at.isoformat(),
        "incident_id": row.incident_id,
        "reply_count": reply_count,
        "blocks": row.body.get("blocks", []),
        "color": row.body.get("color"),
    }


def console_anchor(channel: str, message_id: int) -> str:
    """A link within the page to a message and its thread: `#channel=%23platform&message=m-12
    &thread=m-12` (read by static/app.js)."""
    query = urlencode(
        {"channel": channel, "message": f"m-{message_id}", "thread": f"m-{message_id}"}
    )
    return f"#{query}"


def parse_message_id(value: str) -> int:
    """`m-12` (as the page sends it) or `12`; ValueError otherwise."""
    number = value.removeprefix("m-")
    if not number.isdigit():
        raise ValueError(f"{value!r} is not a console message id")
    return int(number)


class ConsoleHub:
    """Fans live events out to every open console page."""

    def __init__(self, *, heartbeat: float = 15.0) -> None:
        self._subscribers: set[asyncio.Queue[str | None]] = set()
        self._heartbeat = heartbeat

    def publish(self, event: str, data: dict[str, Any]) -> None:
        frame = f"event: {event}\ndata: {json.dumps(data, default=str)}\n\n"
        for queue in list(self._subscribers):
            if queue.qsize() < 1000:  # a stalled page must not hold memory forever
                queue.put_nowait(frame)

    async def stream(self, is_disconnected: Callable[[], Any]) -> AsyncIterator[str]:
        queue: asyncio.Queue[str | None] = asyncio.Queue()
        self._subscribers.add(queue)
        try:
            yield "retry: 2000\n\n"
            while True:
                try:
                    async with asyncio.timeout(self._heartbeat):
                        frame = await queue.get()
                except TimeoutError:
                    if await is_disconnected():
                        return
                    frame = ": keep-alive\n\n"
                if frame is None:
                    return
                yield frame
        finally:
            self._subscribers.discard(queue)

    def close(self) -> None:
        for queue in list(self._subscribers):
            queue.put_nowait(None)


class ConsolePlatform:
    name = "console"

    def __init__(
        self,
        database: Database,
        hub: ConsoleHub,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._database = database
        self._hub = hub
        self._clock = clock

    async def post(self, *, channel: str, reply: Reply, intent: str | None = None) -> PostedMessage:
        row = await self.add(
            channel=channel, author=BOT_NAME, author_kind="bot", reply=reply, intent=intent
        )
        return PostedMessage(message_id=str(row.id), thread_id=str(row.id))

    async def direct_message(self, *, user: str, reply: Reply) -> PostedMessage:
        """The console has no private messages: a person's pages go to the channel `@user`."""
        return await self.post(channel=f"@{user}", reply=reply)

    async def mention(
        self, *, channel: str, thread_id: str | None, user: str, name: str, reply: Reply
    ) -> PostedMessage:
        mentioned = Reply(
            blocks=[Text(f"@{literal(name)}"), *reply.blocks], incident_id=reply.incident_id
        )
        if thread_id:
            return await self.post_in_thread(channel=channel, thread_id=thread_id, reply=mentioned)
        return await self.post(channel=channel, reply=mentioned)

    async def find_posted(
        self, *, channel: str, intent: str, since: datetime
    ) -> PostedMessage | None:
        async with self._database.unit_of_work() as uow:
            for row in await uow.console.roots_since(channel=channel, since=since):
                if row.body.get("intent") == intent:
                    return PostedMessage(message_id=str(row.id), thread_id=str(row.id))
        return None

    async def update(self, *, channel: str, message_id: str, reply: Reply) -> None:
        async with self._database.unit_of_work() as uow:
            row = await uow.console.replace_body(
                message_id=int(message_id), body=render_reply(reply), now=self._clock()
            )
            if row is None:
                raise DeliveryError(f"console message {message_id} is gone", gone="message")
            count = (await uow.console.reply_counts(message_ids=[row.id])).get(row.id, 0)
        self._hub.publish("message", message_json(row, count))

    async def post_in_thread(self, *, channel: str, thread_id: str, reply: Reply) -> PostedMessage:
        row = await self.add(
            channel=channel,
            author=BOT_NAME,
            author_kind="bot",
            reply=reply,
            thread_id=int(thread_id),
        )
        return PostedMessage(message_id=str(row.id), thread_id=thread_id)

    async def add(
        self,
        *,
        channel: str,
        author: str,
        author_kind: str,
        reply: Reply,
        thread_id: int | None = None,
        intent: str | None = None,
    ) -> ConsoleMessageRow:
        """Store a message and tell open pages; a thread reply also refreshes its root."""
        body = render_reply(reply)
        if intent:
            body["intent"] = intent
        async with self._database.unit_of_work() as uow:
            row = await uow.console.add(
                channel=channel,
                author=author,
                author_kind=author_kind,
                body=body,
                now=self._clock(),
                thread_id=thread_id,
                incident_id=reply.incident_id,
            )
            root = await uow.console.get(message_id=thread_id) if thread_id else None
            count = (
                (await uow.console.reply_counts(message_ids=[root.id])).get(root.id, 0)
                if root
                else 0
            )
        self._hub.publish("message", message_json(row))
        if root is not None:
            self._hub.publish("message", message_json(root, count))
        return row
