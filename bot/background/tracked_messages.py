"""Kinds of tracked message: ones Lookout posts once, where they were asked (the incident's
thread when there is one), and then edits in place whenever their source's revision moves
past the one last rendered. The notifier runs one delivery step for every kind.

* a runbook run's progress (`run`, keyed by run id);
* a live blast-radius tracker on an incident (`blast`, keyed by tracker id);
* a "Seen before?" reply in a new incident's thread (`seen`, keyed by incident id);
* an answer an LLM writes after `ask` or `explain` (`answer`, keyed by answer id).
* a scheduled report (`report`, keyed by scheduled run id), posted in its channel.
* a new incident's context, posted unasked in its thread (`context`, keyed by incident id).
* a policy rule that fired on an incident, in its thread (`policy`, keyed by firing id).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from skills.contract import Reply
from skills.reply_codec import decode
from skills.views.blast_tracker import tracker_message
from skills.views.context_card import context_message
from skills.views.knowledge_cards import answer_message, hint_message
from skills.views.run_card import run_message
from storage.contexts import CONTEXT_MESSAGE
from storage.knowledge import ANSWER_MESSAGE, HINT_MESSAGE
from storage.policies import POLICY_MESSAGE
from storage.runs import RUN_MESSAGE
from storage.schedules import REPORT_MESSAGE
from storage.trackers import BLAST_MESSAGE
from storage.uow import UnitOfWork


@dataclass(frozen=True)
class TrackedWork:
    """One message of a kind whose chat copy on a platform is missing or out of date."""

    key: str
    revision: int
    channel: str  # where it was asked
    thread: str | None
    incident_id: int | None
    reply: Reply


class TrackedKind(Protocol):
    kind: str  # `chat_messages.kind`

    async def behind(self, uow: UnitOfWork, *, platform: str) -> list[TrackedWork]:
        """What this platform's copy lacks, rendered now."""
        ...


class RunMessages:
    kind = RUN_MESSAGE

    async def behind(self, uow: UnitOfWork, *, platform: str) -> list[TrackedWork]:
        return [
            TrackedWork(
                key=str(run.id),
                revision=run.revision,
                channel=run.channel,
                thread=run.thread,
                incident_id=run.incident_id,
                reply=run_message(run),
            )
            for run in await uow.runs.behind(platform=platform)
        ]


class BlastTrackerMessages:
    kind = BLAST_MESSAGE

    async def behind(self, uow: UnitOfWork, *, platform: str) -> list[TrackedWork]:
        return [
            TrackedWork(
                key=str(tracker.id),
                revision=tracker.revision,
                channel=tracker.channel,
                thread=tracker.thread_id,
                incident_id=tracker.incident_id,
                reply=tracker_message(tracker),
            )
            for tracker in await uow.trackers.behind(platform=platform)
        ]


class HintMessages:
    kind = HINT_MESSAGE

    async def behind(self, uow: UnitOfWork, *, platform: str) -> list[TrackedWork]:
        return [
            TrackedWork(
                key=str(hint.incident_id),
                revision=hint.revision,
                channel="",  # always the incident's thread (`hints_behind` requires it)
                thread=None,
                incident_id=hint.incident_id,
                reply=hint_message(hint),
            )
            for hint in await uow.knowledge.hints_behind(platform=platform)
        ]


class AnswerMessages:
    kind = ANSWER_MESSAGE

    async def behind(self, uow: UnitOfWork, *, platform: str) -> list[TrackedWork]:
        return [
            TrackedWork(
                key=str(answer.id),
                revision=answer.revision,
                channel=answer.channel,
                thread=answer.thread,
                incident_id=answer.incident_id,
                reply=answer_message(answer),
            )
            for answer in await uow.knowledge.answers_behind(platform=platform)
        ]


class ReportMessages:
    kind = REPORT_MESSAGE

    async def behind(self, uow: UnitOfWork, *, platform: str) -> list[TrackedWork]:
        found = []
        for run in await uow.schedules.reports_behind(platform=platform, now=datetime.now(UTC)):
            assert run.reply is not None and run.channel is not None
            found.append(
                TrackedWork(
                    key=str(run.id),
                    revision=run.revision,
                    channel=(run.channels or {}).get(platform, run.channel),
                    thread=None,
                    incident_id=None,
                    reply=decode(run.reply),
                )
            )
        return found


class ContextMessages:
    kind = CONTEXT_MESSAGE

    async def behind(self, uow: UnitOfWork, *, platform: str) -> list[TrackedWork]:
        return [
            TrackedWork(
                key=str(post.incident_id),
                revision=post.revision,
                channel="",  # always the incident's thread (`posts_behind` requires it)
                thread=None,
                incident_id=post.incident_id,
                reply=context_message(snapshot),
            )
            for post, snapshot in await uow.contexts.posts_behind(platform=platform)
        ]


class PolicyMessages:
    kind = POLICY_MESSAGE

    async def behind(self, uow: UnitOfWork, *, platform: str) -> list[TrackedWork]:
        return [
            TrackedWork(
                key=str(firing.id),
                revision=firing.revision,
                channel="",  # always the incident's thread (`posts_behind` requires it)
                thread=None,
                incident_id=firing.incident_id,
                reply=Reply.text(
                    firing.message, visibility="thread", incident_id=firing.incident_id
                ),
            )
            for firing in await uow.policies.posts_behind(platform=platform)
        ]


def tracked_kinds() -> list[TrackedKind]:
    return [
        RunMessages(),
        BlastTrackerMessages(),
        HintMessages(),
        AnswerMessages(),
        ReportMessages(),
        ContextMessages(),
        PolicyMessages(),
    ]
