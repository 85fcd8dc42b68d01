"""The notifier: posts each incident once per platform and keeps that message current; the
same for tracked messages (a run's progress, a live blast radius; see `tracked_messages`).

Incidents carry a revision; a platform's chat thread row remembers the revision it last
rendered. The notifier renders whatever is behind, so a burst of changes to one incident
becomes one update, and a crash between commit and post loses nothing: the next pass sees
the incident still behind and catches up.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bot.background.passes import BackgroundPass
from bot.background.tracked_messages import TrackedKind, TrackedWork, tracked_kinds
from bot.metrics import Metrics
from bot.platforms import ChatPlatform, PostedMessage
from skills.contract import Reply
from skills.views.incident_card import card_facts, incident_message
from storage.database import Database

log = logging.getLogger(__name__)

IN_FLIGHT_GRACE = timedelta(seconds=60)
MAX_BACKOFF = timedelta(minutes=10)


@dataclass(frozen=True)
class _Work:
    incident_id: int
    revision: int
    channel: str
    message_id: str | None
    reply: Reply


class Notifier:
    def __init__(
        self,
        database: Database,
        platforms: Sequence[ChatPlatform],
        *,
        channel_for: Callable[[str, str | None], str],
        metrics: Metrics,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        debounce: float = 0.1,
        idle_interval: float = 5.0,
    ) -> None:
        self._database = database
        self._platforms = list(platforms)
        self._channel_for = channel_for
        self._metrics = metrics
        self._clock = clock
        self._tracked: list[TrackedKind] = tracked_kinds()
        self._pass_lock = asyncio.Lock()
        self._background = BackgroundPass(
            "notifier", self.flush, interval=idle_interval, debounce=debounce, metrics=metrics
        )

    def wake(self) -> None:
        self._background.wake()

    def start(self) -> None:
        self._background.start()

    async def stop(self) -> None:
        await self._background.stop()

    async def flush(self) -> int:
        """One pass over every platform; returns how many messages were posted or updated."""
        async with self._pass_lock:
            done = 0
            for platform in self._platforms:
                while True:
                    batch = await self._collect(platform)
                    if not batch:
                        break
                    sent = 0
                    for work in batch:
                        sent += await self._deliver(platform, work)
                    done += sent
                    if sent == 0:
                        break
                for source in self._tracked:
                    done += await self._sync_tracked(platform, source)
            return done

    async def announce(self, reply: Reply, *, channel_for: Callable[[str], str]) -> None:
        """A one-off message on every platform (not tied to an incident); failures are logged."""
        for platform in self._platforms:
            try:
                await platform.post(channel=channel_for(platform.name), reply=reply)
            except Exception:
                self._metrics.errors.labels(where=f"post:{platform.name}").inc()
                log.exception("could not post an announcement", extra={"platform": platform.name})

    async def _sync_tracked(self, platform: ChatPlatform, source: TrackedKind) -> int:
        """Messages of one kind (a run's progress, a blast tracker): each posted where it was
        asked (the incident's thread when there is one), then edited as its source changes."""
        now = self._clock()
        sent = 0
        kind = source.kind
        work: list[tuple[TrackedWork, str, str | None, str | None]] = []
        async with self._database.unit_of_work() as uow:
            for item in await source.behind(uow, platform=platform.name):
                row = await uow.messages.get(kind=kind, key=item.key, platform=platform.name)
                if row is None:
                    channel, thread = item.channel, item.thread
                    if item.incident_id is not None:
                        root = await uow.threads.get(
                            incident_id=item.incident_id, platform=platform.name
                        )
                        if root is not None and root.thread_id:
                            channel, thread = root.channel, root.thread_id
                    row = await uow.messages.claim(
                        kind=kind,
                        key=item.key,
                        platform=platform.name,
                        channel=channel,
                        thread_id=thread,
                        now=now,
                    )
                    if row is None:
                        continue
                elif (row.message_id is None or row.last_error) and not self._due(
                    row.updated_at, row.attempts, now
                ):
                    continue
                work.append((item, row.channel, row.thread_id, row.message_id))
        for item, channel, thread, message_id in work:
            try:
                posted = await self._send(
                    platform,
                    channel=channel,
                    reply=item.reply,
                    message_id=message_id,
                    thread=thread,
                )
            except Exception as error:
                self._metrics.errors.labels(where=f"post:{platform.name}").inc()
                log.exception(
                    "could not deliver a tracked message", extra={"kind": kind, "key": item.key}
                )
                async with self._database.unit_of_work() as uow:
                    row = await uow.messages.get(kind=kind, key=item.key, platform=platform.name)
                    if row is not None:
                        await uow.messages.record_failure(
                            row=row, error=repr(error), now=self._clock()
                        )
                continue
            async with self._database.unit_of_work() as uow:
                row = await uow.messages.get(kind=kind, key=item.key, platform=platform.name)
                if row is None:
                    continue
                if posted is not None:
                    await uow.messages.record_posted(
                        row=row,
                        message_id=posted.message_id,
                        thread_id=posted.thread_id,
                        revision=item.revision,
                        now=self._clock(),
                        channel=posted.channel,
                    )
                else:
                    await uow.messages.record_rendered(
                        row=row, revision=item.revision, now=self._clock()
                    )
            sent += 1
        return sent

    async def _collect(self, platform: ChatPlatform) -> list[_Work]:
        now = self._clock()
        work: list[_Work] = []
        async with self._database.unit_of_work() as uow:
            incidents = await uow.incidents.changed_since(platform=platform.name)
            if not incidents:
                return []
            facts = await card_facts(uow.alerts, [incident.id for incident in incidents])
            for incident in incidents:
                row = await uow.threads.get(incident_id=incident.id, platform=platform.name)
                if row is None:
                    row = await uow.threads.claim(
                        incident_id=incident.id,
                        platform=platform.name,
                        channel=self._channel_for(platform.name, incident.service),
                        now=now,
                    )
                    if row is None:  # another replica claimed it a moment ago
                        continue
                elif (row.message_id is None or row.last_error) and not self._due(
                    row.updated_at, row.attempts, now
                ):
                    continue  # failed recently, or another replica is posting it
                work.append(
                    _Work(
                        incident_id=incident.id,
                        revision=incident.revision,
                        channel=row.channel,
                        message_id=row.message_id,
                        reply=incident_message(incident, facts[incident.id], now),
                    )
                )
        return work

    @staticmethod
    def _due(updated_at: datetime, attempts: int, now: datetime) -> bool:
        """Retry failed or stalled deliveries with exponential backoff."""
        if attempts == 0:
            return now - updated_at >= IN_FLIGHT_GRACE
        wait = min(timedelta(seconds=2**attempts), MAX_BACKOFF)
        return now - updated_at >= wait

    @staticmethod
    async def _send(
        platform: ChatPlatform,
        *,
        channel: str,
        reply: Reply,
        message_id: str | None,
        thread: str | None = None,
    ) -> PostedMessage | None:
        """Edit the message when it exists (None back), else post it, in `thread` if given."""
        if message_id is not None:
            await platform.update(channel=channel, message_id=message_id, reply=reply)
            return None
        if thread:
            return await platform.post_in_thread(channel=channel, thread_id=thread, reply=reply)
        return await platform.post(channel=channel, reply=reply)

    async def _deliver(self, platform: ChatPlatform, work: _Work) -> int:
        try:
            posted = await self._send(
                platform, channel=work.channel, reply=work.reply, message_id=work.message_id
            )
        except Exception as error:
            self._metrics.errors.labels(where=f"post:{platform.name}").inc()
            log.exception(
                "could not deliver an incident message",
                extra={"platform": platform.name, "incident": work.incident_id},
            )
            async with self._database.unit_of_work() as uow:
                row = await uow.threads.get(incident_id=work.incident_id, platform=platform.name)
                if row is not None:
                    await uow.threads.record_failure(row=row, error=repr(error), now=self._clock())
            return 0
        async with self._database.unit_of_work() as uow:
            row = await uow.threads.get(incident_id=work.incident_id, platform=platform.name)
            if row is None:
                return 0
            if posted is not None:
                await uow.threads.record_posted(
                    row=row,
                    message_id=posted.message_id,
                    thread_id=posted.thread_id,
                    revision=work.revision,
                    now=self._clock(),
                    channel=posted.channel,
                )
                await uow.incidents.add_event(
                    incident_id=work.incident_id,
                    kind="notified",
                    text=f"Posted to {posted.channel or work.channel} on {platform.name}",
                    at=self._clock(),
                    data={"platform": platform.name, "message": posted.message_id},
                )
                self._metrics.chat_posts.labels(platform=platform.name).inc()
            else:
                await uow.threads.record_rendered(
                    row=row, revision=work.revision, now=self._clock()
                )
                self._metrics.chat_updates.labels(platform=platform.name).inc()
        return 1
