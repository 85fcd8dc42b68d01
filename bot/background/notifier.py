"""The notifier: posts each incident once per platform and keeps that message current; the
same for tracked messages (a run's progress, a live blast radius; see `tracked_messages`).

Incidents carry a revision; a platform's chat thread row remembers the revision it last
rendered. The notifier renders whatever is behind, so a burst of changes to one incident
becomes one update, and a crash between commit and post loses nothing: the next pass sees
the incident still behind and catches up.

A first post is never sent twice: it carries a token derived from its row (the claim is
committed before anything is sent), in Slack's message metadata or a field of the console's
message. A later pass that finds a row without a message id — the process may have died
between posting and recording — looks for a post with that token and adopts it instead of
posting again.

Platforms say how they failed (`DeliveryError`): a refused message is replaced by a compact
one; a message that is gone (deleted by someone) is posted anew; a permanent error, or
`MAX_ATTEMPTS` transient ones, ends the retries until the source changes again, and admins
hear of a permanent one once (`admin_notices`). Nothing is retried forever.

A rate limit (`RateLimited`) is not a failure: that message waits for its channel and method
to be free again (a timer wakes the notifier then) while every other message goes on. New
messages go first in a pass, most severe first, so a new incident never waits behind edits.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from bot.background.admin_notices import AdminNotices
from bot.background.passes import BackgroundPass
from bot.background.tracked_messages import TrackedKind, tracked_kinds
from bot.metrics import Metrics
from bot.platforms import ChatPlatform, DeliveryError, PostedMessage, RateLimited
from core.incidents import display_id
from core.severity import parse_severity
from skills.contract import Reply
from skills.fit import compact
from skills.views.incident_card import card_facts, incident_message
from skills.views.incident_paging import PagingFacts
from storage.database import Database
from storage.delivery import Delivered, DeliveryRecords
from storage.models import IncidentRow
from storage.uow import UnitOfWork

log = logging.getLogger(__name__)

PagingLookup = Callable[
    [UnitOfWork, list[IncidentRow], datetime], Awaitable[dict[int, PagingFacts]]
]
IN_FLIGHT_GRACE = timedelta(seconds=60)
MAX_BACKOFF = timedelta(minutes=10)
MAX_ATTEMPTS = 12  # about 50 minutes of backoff, then the message waits for a change
# Incidents collected per transaction: on SQLite every transaction holds the one writer's
# lock, so a pass over a storm's hundreds of incidents goes in short steps that webhooks
# and commands slip between.
COLLECT_BATCH = 20
# How far before a row's claim a platform's clock may put the post it is looking for.
CLOCK_SKEW = timedelta(minutes=5)


@dataclass(frozen=True)
class _Slot:
    """Which delivery row a message has: an incident's root message, or a tracked one."""

    platform: str
    incident_id: int | None = None
    kind: str | None = None
    key: str | None = None

    async def load(self, uow: UnitOfWork) -> Delivered | None:
        if self.kind is None:
            assert self.incident_id is not None
            return await uow.threads.get(incident_id=self.incident_id, platform=self.platform)
        assert self.key is not None
        return await uow.messages.get(kind=self.kind, key=self.key, platform=self.platform)

    def records(self, uow: UnitOfWork) -> DeliveryRecords:
        return uow.threads if self.kind is None else uow.messages


@dataclass(frozen=True)
class _Work:
    """One message to deliver: where, what, and what its row knows of earlier attempts."""

    slot: _Slot
    revision: int
    channel: str
    message_id: str | None
    reply: Reply
    thread: str | None = None
    intent: str | None = None  # the token a first post carries; set when one may be needed
    fresh: bool = False  # the row was claimed in this pass: nothing can have been posted yet
    degraded: str | None = None
    claimed_at: datetime | None = None
    incident_id: int | None = None  # the incident it is about (a tracked message's too)
    urgency: int = 0  # lower goes first: new messages, then by severity

    @property
    def shown(self) -> Reply:
        """What to send: the compact stand-in once the platform refused the full message."""
        return compact(self.reply, self.degraded) if self.degraded else self.reply


class _Sent(NamedTuple):
    """A message that went out and is still to be recorded: None for an edit, else where
    the platform put the new post."""

    work: _Work
    posted: PostedMessage | None


def _due(row: Delivered, revision: int, now: datetime) -> bool:
    """Whether a row that is not done may be tried now: never while given up at this
    revision; failed or stalled ones with exponential backoff."""
    if row.gave_up_revision is not None and revision <= row.gave_up_revision:
        return False
    if row.message_id is not None and not row.last_error:
        return True
    if row.attempts == 0:
        # A row with an error and no failed attempt waited for a rate limit: the platform
        # knows when it may go. One with neither may be in flight on another replica.
        waited = bool(row.last_error)
        return row.message_id is not None or waited or now - row.updated_at >= IN_FLIGHT_GRACE
    wait = min(timedelta(seconds=2**row.attempts), MAX_BACKOFF)
    return now - row.updated_at >= wait


class Notifier:
    def __init__(
        self,
        database: Database,
        platforms: Sequence[ChatPlatform],
        *,
        channel_for: Callable[[str, str | None, str], str],
        metrics: Metrics,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        debounce: float = 0.1,
        idle_interval: float = 5.0,
        admin_channel_for: Callable[[str], str] | None = None,
        paging: PagingLookup | None = None,
    ) -> None:
        self._database = database
        self._platforms = list(platforms)
        self._channel_for = channel_for
        self._metrics = metrics
        self._clock = clock
        self._notices = AdminNotices(database, lambda: self._platforms, admin_channel_for, clock)
        self._timers: set[asyncio.TimerHandle] = set()
        self._tracked: list[TrackedKind] = tracked_kinds()
        self._paging = paging  # the escalation and SLA lines of incident messages
        self._pass_lock = asyncio.Lock()
        self._background = BackgroundPass(
            "notifier", self.flush, interval=idle_interval, debounce=debounce, metrics=metrics
        )

    def wake(self) -> None:
        self._background.wake()

    def start(self) -> None:
        self._background.start()

    async def stop(self) -> None:
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        await self._background.stop()

    def _wake_in(self, seconds: float) -> None:
        """Wake once `seconds` have passed (a rate limit's end)."""
        loop = asyncio.get_running_loop()

        def fire() -> None:
            self._timers.discard(timer)
            self.wake()

        timer = loop.call_later(seconds + 0.05, fire)
        self._timers.add(timer)

    async def flush(self) -> int:
        """One pass over every platform; returns how many messages were posted or updated."""
        async with self._pass_lock:
            # A round per platform in turn, so no platform waits for another's storm. A second
            # round catches what the first left behind (an adopted post to bring up to date);
            # what changes after that waits for the next pass, which the change wakes, so a
            # storm's many changes to one card become few updates.
            done = await self._incidents_rounds()
            if done:
                done += await self._incidents_rounds()
            for platform in self._platforms:
                for source in self._tracked:
                    done += await self._sync_tracked(platform, source)
            return done

    async def _incidents_rounds(self) -> int:
        sent = 0
        for platform in self._platforms:
            sent += await self._incidents_round(platform)
        return sent

    async def _incidents_round(self, platform: ChatPlatform) -> int:
        """One round over every incident whose message on `platform` is behind, in id order,
        `COLLECT_BATCH` per transaction; returns how many messages were posted or updated."""
        sent = 0
        after = 0
        while True:
            batch, after, more = await self._collect(platform, after)
            delivered: list[_Sent] = []
            for work in batch:
                sent += await self._deliver(platform, work, delivered=delivered)
            await self._record_sent(platform, delivered)
            if not more:
                return sent

    async def announce(self, reply: Reply, *, channel_for: Callable[[str], str]) -> None:
        """A one-off message on every platform (not tied to an incident); failures are logged."""
        for platform in self._platforms:
            try:
                await platform.post(channel=channel_for(platform.name), reply=reply)
            except Exception:
                self._metrics.errors.labels(where=f"post:{platform.name}").inc()
                log.exception("could not post an announcement", extra={"platform": platform.name})

    # ----------------------------------------------------------------- incidents

    async def _collect(self, platform: ChatPlatform, after: int) -> tuple[list[_Work], int, bool]:
        """The next `COLLECT_BATCH` incidents after id `after` whose message on `platform` is
        behind: (their work, the last id looked at, whether more may follow)."""
        now = self._clock()
        work: list[_Work] = []
        async with self._database.unit_of_work() as uow:
            incidents = await uow.incidents.changed_since(
                platform=platform.name, after=after, limit=COLLECT_BATCH
            )
            if not incidents:
                return [], after, False
            facts = await card_facts(uow.alerts, [incident.id for incident in incidents])
            paging = await self._paging(uow, incidents, now) if self._paging else {}
            rows = await uow.threads.rows_of(
                incident_ids=[incident.id for incident in incidents], platform=platform.name
            )
            for incident in incidents:
                row = rows.get(incident.id)
                fresh = row is None
                if row is None:
                    row = await uow.threads.claim(
                        incident_id=incident.id,
                        platform=platform.name,
                        channel=self._channel_for(
                            platform.name, incident.service, incident.project
                        ),
                        now=now,
                    )
                    if row is None:  # another replica claimed it a moment ago
                        continue
                    await uow.flush()  # its id is the post's token
                elif not _due(row, incident.revision, now):
                    continue  # failed recently, given up, or another replica is posting it
                first = 0 if row.message_id is None else 10
                work.append(
                    _Work(
                        slot=_Slot(platform.name, incident_id=incident.id),
                        revision=incident.revision,
                        channel=row.channel,
                        message_id=row.message_id,
                        reply=incident_message(
                            incident, facts[incident.id], now, paging.get(incident.id)
                        ),
                        intent=_token(platform.name, "incident", row.id),
                        fresh=fresh,
                        degraded=row.degraded,
                        claimed_at=row.created_at,
                        incident_id=incident.id,
                        urgency=first - parse_severity(incident.severity),
                    )
                )
        more = len(incidents) == COLLECT_BATCH
        return sorted(work, key=lambda item: item.urgency), incidents[-1].id, more

    # ----------------------------------------------------------- tracked messages

    async def _sync_tracked(self, platform: ChatPlatform, source: TrackedKind) -> int:
        """Messages of one kind (a run's progress, a blast tracker): each posted where it was
        asked (the incident's thread when there is one), then edited as its source changes."""
        now = self._clock()
        sent = 0
        kind = source.kind
        work: list[_Work] = []
        async with self._database.unit_of_work() as uow:
            for item in await source.behind(uow, platform=platform.name):
                row = await uow.messages.get(kind=kind, key=item.key, platform=platform.name)
                fresh = row is None
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
                    await uow.flush()
                elif not _due(row, item.revision, now):
                    continue
                work.append(
                    _Work(
                        slot=_Slot(platform.name, kind=kind, key=item.key),
                        revision=item.revision,
                        channel=row.channel,
                        message_id=row.message_id,
                        reply=item.reply,
                        thread=row.thread_id,
                        intent=_token(platform.name, kind, row.id),
                        fresh=fresh,
                        degraded=row.degraded,
                        claimed_at=row.created_at,
                        incident_id=item.incident_id,
                        urgency=0 if row.message_id is None else 1,
                    )
                )
        for item_work in sorted(work, key=lambda item: item.urgency):
            sent += await self._deliver(platform, item_work)
        return sent

    # ------------------------------------------------------------------ delivery

    async def _deliver(
        self,
        platform: ChatPlatform,
        work: _Work,
        *,
        repairs: int = 0,
        delivered: list[_Sent] | None = None,
    ) -> int:
        """Post or update one message, recording the outcome. Before posting anew a message
        that may have been posted already (a retry, or the first pass after a crash), look
        for it; a message the platform says is gone is posted again (at most twice). Returns
        1 when a message was posted or updated.

        With `delivered`, a success is appended there for the caller to record with the rest
        of its batch (`_record_sent`, one transaction); failures are recorded at once. A
        crash before that transaction loses nothing: a first post is found again by its
        token, and an update not recorded is sent again."""
        slot = work.slot
        if (
            work.message_id is None
            and work.thread is None
            and not work.fresh
            and await self._adopt(platform, work)
        ):
            return 1
        try:
            posted = await self._send(platform, work)
        except RateLimited as limited:
            log.info(
                "rate limited; this message waits, the others go on",
                extra={"platform": platform.name, "slot": repr(slot), "wait": limited.retry_after},
            )
            async with self._database.unit_of_work() as uow:
                row = await slot.load(uow)
                if row is not None:
                    await slot.records(uow).record_waiting(
                        row=row, reason=str(limited), now=self._clock()
                    )
            self._wake_in(limited.retry_after)
            return 0
        except DeliveryError as error:
            if error.refused_content and work.degraded is None:
                log.warning(
                    "the platform refused a message; showing a compact one",
                    extra={"platform": platform.name, "slot": repr(slot), "reason": error.reason},
                )
                async with self._database.unit_of_work() as uow:
                    row = await slot.load(uow)
                    if row is not None:
                        await slot.records(uow).record_degraded(
                            row=row, reason=error.reason, now=self._clock()
                        )
                return await self._deliver(
                    platform,
                    replace(work, degraded=error.reason, fresh=True),
                    repairs=repairs,
                    delivered=delivered,
                )
            if error.gone == "message" and repairs < 2:
                moved = await self._message_gone(platform, work, error)
                if moved is not None:
                    return await self._deliver(
                        platform, moved, repairs=repairs + 1, delivered=delivered
                    )
            await self._failed(platform, work, error, give_up=True)
            return 0
        except Exception as error:
            await self._failed(platform, work, error, give_up=False)
            return 0
        if delivered is not None:
            delivered.append(_Sent(work, posted))
            return 1
        async with self._database.unit_of_work() as uow:
            row = await slot.load(uow)
            if row is None:
                return 0
            recovered = await self._record_one(uow, platform, _Sent(work, posted), row)
        await self._after_sent(platform, [_Sent(work, posted)] if recovered else [])
        return 1

    async def _record_sent(self, platform: ChatPlatform, delivered: list[_Sent]) -> None:
        """Record a batch of incidents' messages that went out, in one transaction."""
        if not delivered:
            return
        recovered: list[_Sent] = []
        async with self._database.unit_of_work() as uow:
            rows = await uow.threads.rows_of(
                incident_ids=[sent.work.slot.incident_id or 0 for sent in delivered],
                platform=platform.name,
            )
            for sent in delivered:
                row = rows.get(sent.work.slot.incident_id or 0)
                if row is not None and await self._record_one(uow, platform, sent, row):
                    recovered.append(sent)
        await self._after_sent(platform, recovered)

    async def _record_one(
        self, uow: UnitOfWork, platform: ChatPlatform, sent: _Sent, row: Delivered
    ) -> bool:
        """Record one message that went out; True when its row had been failing."""
        recovered = bool(row.last_error)
        work, posted = sent
        if posted is None:
            await work.slot.records(uow).record_rendered(
                row=row, revision=work.revision, now=self._clock()
            )
        else:
            await self._posted(uow, platform, work, row, posted, revision=work.revision)
        if work.slot.incident_id is not None:  # the counters are about incidents' root messages
            counter = self._metrics.chat_updates if posted is None else self._metrics.chat_posts
            counter.labels(platform=platform.name).inc()
        return recovered

    async def _after_sent(self, platform: ChatPlatform, recovered: list[_Sent]) -> None:
        """Clear the admins' notices about channels that work again."""
        channels = {sent.work.channel for sent in recovered}
        channels |= {
            sent.posted.channel for sent in recovered if sent.posted and sent.posted.channel
        }
        if channels:
            await self._notices.clear(platform=platform.name, channels=sorted(channels))

    async def _message_gone(
        self, platform: ChatPlatform, work: _Work, error: DeliveryError
    ) -> _Work | None:
        """Repair a message someone deleted: an incident's card, or a tracked message, is
        posted anew (a tracked one in its incident's current thread, which may have moved
        with its card). None when there is nothing left to try."""
        thread = work.thread
        if work.message_id is None:
            # Posting into a thread that is gone: only a tracked message of an incident whose
            # card (and so thread) was posted anew can move.
            if work.slot.kind is None or work.incident_id is None:
                return None
            async with self._database.unit_of_work() as uow:
                root = await uow.threads.get(incident_id=work.incident_id, platform=platform.name)
            if root is None or not root.thread_id or root.thread_id == work.thread:
                return None
            thread = root.thread_id
        log.warning(
            "a message was gone; posting it anew",
            extra={"platform": platform.name, "slot": repr(work.slot), "reason": error.reason},
        )
        async with self._database.unit_of_work() as uow:
            row = await work.slot.load(uow)
            if row is None:
                return None
            await work.slot.records(uow).record_message_gone(
                row=row, thread_id=thread, now=self._clock()
            )
            if work.slot.kind is None and work.incident_id is not None:
                await uow.incidents.add_event(
                    incident_id=work.incident_id,
                    kind="message_gone",
                    text=f"The {platform.name} message was gone ({error.code or error.reason}); "
                    "posting it again",
                    at=self._clock(),
                    data={"platform": platform.name, "message": work.message_id},
                )
        return replace(work, message_id=None, thread=thread, fresh=True)

    async def _adopt(self, platform: ChatPlatform, work: _Work) -> bool:
        """After a crash between posting and recording: find the post that carries the row's
        intent and take it as the message (the next pass brings it up to date)."""
        assert work.intent is not None
        since = (work.claimed_at or self._clock()) - CLOCK_SKEW
        try:
            found = await platform.find_posted(
                channel=work.channel, intent=work.intent, since=since
            )
        except Exception:
            log.warning("could not look for an earlier post", exc_info=True)
            return False
        if found is None:
            return False
        log.info("adopted a post made before a restart", extra={"slot": repr(work.slot)})
        async with self._database.unit_of_work() as uow:
            row = await work.slot.load(uow)
            if row is not None:
                await self._posted(uow, platform, work, row, found, revision=0)
        if work.slot.incident_id is not None:
            self._metrics.chat_posts.labels(platform=platform.name).inc()
        return True

    async def _posted(
        self,
        uow: UnitOfWork,
        platform: ChatPlatform,
        work: _Work,
        row: Delivered,
        posted: PostedMessage,
        *,
        revision: int,
    ) -> None:
        await work.slot.records(uow).record_posted(
            row=row,
            message_id=posted.message_id,
            thread_id=posted.thread_id,
            revision=revision,
            now=self._clock(),
            channel=posted.channel,
        )
        if work.slot.incident_id is not None:
            await uow.incidents.add_event(
                incident_id=work.slot.incident_id,
                kind="notified",
                text=f"Posted to {posted.channel or work.channel} on {platform.name}",
                at=self._clock(),
                data={"platform": platform.name, "message": posted.message_id},
            )

    async def _failed(
        self, platform: ChatPlatform, work: _Work, error: Exception, *, give_up: bool
    ) -> None:
        self._metrics.errors.labels(where=f"post:{platform.name}").inc()
        last = give_up
        async with self._database.unit_of_work() as uow:
            row = await work.slot.load(uow)
            if row is None:
                return
            last = give_up or row.attempts + 1 >= MAX_ATTEMPTS
            await work.slot.records(uow).record_failure(
                row=row,
                error=str(error) if isinstance(error, DeliveryError) else repr(error),
                now=self._clock(),
                give_up_at=work.revision if last else None,
            )
        extra = {"platform": platform.name, "slot": repr(work.slot), "error": repr(error)}
        if last:
            log.error("gave up delivering a message until it changes again", extra=extra)
        else:
            log.warning("could not deliver a message; will retry", extra=extra)
        if (
            isinstance(error, DeliveryError)
            and not error.refused_content
            and error.gone != "message"
        ):
            waiting = (
                f"{display_id(work.incident_id)}'s message"
                if work.incident_id is not None
                else "A message"
            )
            await self._notices.tell_once(
                platform=platform.name, channel=work.channel, error=error, waiting=waiting
            )

    @staticmethod
    async def _send(platform: ChatPlatform, work: _Work) -> PostedMessage | None:
        """Edit the message when it exists (None back), else post it, in its thread if any."""
        reply = work.shown
        if work.message_id is not None:
            await platform.update(channel=work.channel, message_id=work.message_id, reply=reply)
            return None
        if work.thread:
            return await platform.post_in_thread(
                channel=work.channel, thread_id=work.thread, reply=reply
            )
        intent = work.intent if work.thread is None else None
        return await platform.post(channel=work.channel, reply=reply, intent=intent)


def _token(platform: str, kind: str, row_id: int) -> str:
    """The token a first post carries: its delivery row's, known as soon as it is claimed."""
    return f"lookout:{platform}:{kind}:{row_id}"
