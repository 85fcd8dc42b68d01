"""What the knowledge layer keeps in the database: which changes it has indexed (by the
timeline's event ids), "Seen before?" hints and written answers."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import String, cast, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.delivery import insert_once
from storage.models import (
    ChatMessageRow,
    ChatThreadRow,
    IncidentEventRow,
    IncidentRow,
    KnowledgeAnswerRow,
    KnowledgeHintRow,
    RunbookRunRow,
)

HINT_MESSAGE = "seen"
ANSWER_MESSAGE = "answer"


class KnowledgeRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    # --- what changed since the index last looked ---
    async def latest_event_id(self) -> int:
        """The newest timeline event's id (0 for none): the index is current up to it."""
        found = (await self._session.execute(select(func.max(IncidentEventRow.id)))).scalar()
        return int(found or 0)

    async def changes_after(self, *, after_event: int, kinds: Sequence[str]) -> int:
        """How many timeline events of these kinds came after `after_event`."""
        query = select(func.count()).where(
            IncidentEventRow.id > after_event, IncidentEventRow.kind.in_(list(kinds))
        )
        return int((await self._session.execute(query)).scalar_one())

    async def changed_incidents(
        self, *, after_event: int, limit: int = 5000
    ) -> tuple[list[int], int]:
        """Incidents with timeline events after `after_event` (at most `limit` events read),
        and the last event id read."""
        query = (
            select(IncidentEventRow.id, IncidentEventRow.incident_id)
            .where(IncidentEventRow.id > after_event)
            .order_by(IncidentEventRow.id)
            .limit(limit)
        )
        rows = (await self._session.execute(query)).all()
        if not rows:
            return [], after_event
        return sorted({int(incident) for _, incident in rows}), int(rows[-1][0])

    async def new_incidents(self, *, since: datetime, limit: int = 50) -> list[IncidentRow]:
        """Open incidents created since `since` that were not checked for a hint yet."""
        query = (
            select(IncidentRow)
            .outerjoin(KnowledgeHintRow, KnowledgeHintRow.incident_id == IncidentRow.id)
            .where(
                KnowledgeHintRow.id.is_(None),
                IncidentRow.created_at >= since,
                IncidentRow.status != "resolved",
            )
            .order_by(IncidentRow.id)
            .limit(limit)
        )
        return list((await self._session.scalars(query)).all())

    async def events_for(
        self, *, incident_ids: Sequence[int], kinds: Sequence[str]
    ) -> dict[int, list[IncidentEventRow]]:
        """Timeline events of some kinds for many incidents, oldest first."""
        found: dict[int, list[IncidentEventRow]] = {incident_id: [] for incident_id in incident_ids}
        for start in range(0, len(incident_ids), 500):
            chunk = list(incident_ids[start : start + 500])
            query = (
                select(IncidentEventRow)
                .where(IncidentEventRow.incident_id.in_(chunk), IncidentEventRow.kind.in_(kinds))
                .order_by(IncidentEventRow.at, IncidentEventRow.id)
            )
            for row in (await self._session.scalars(query)).all():
                found[row.incident_id].append(row)
        return found

    async def runs_for(self, *, incident_ids: Sequence[int]) -> dict[int, list[tuple[str, str]]]:
        """Per incident: (runbook, final status) of its real (not dry) runs, oldest first."""
        found: dict[int, list[tuple[str, str]]] = {incident_id: [] for incident_id in incident_ids}
        for start in range(0, len(incident_ids), 500):
            chunk = list(incident_ids[start : start + 500])
            query = (
                select(RunbookRunRow.incident_id, RunbookRunRow.runbook, RunbookRunRow.status)
                .where(
                    RunbookRunRow.incident_id.in_(chunk),
                    RunbookRunRow.dry_run.is_(False),
                    RunbookRunRow.status.in_(("succeeded", "failed", "rolled_back")),
                )
                .order_by(RunbookRunRow.id)
            )
            for incident_id, runbook, status in (await self._session.execute(query)).all():
                if incident_id is not None:
                    found[int(incident_id)].append((str(runbook), str(status)))
        return found

    # --- "Seen before?" ---
    async def add_hint(
        self, *, incident_id: int, matched: bool, snapshot: dict[str, Any], now: datetime
    ) -> bool:
        row = KnowledgeHintRow(
            incident_id=incident_id, matched=matched, snapshot=snapshot, revision=1, created_at=now
        )
        return await insert_once(self._session, row)

    async def hint(self, *, incident_id: int) -> KnowledgeHintRow | None:
        query = select(KnowledgeHintRow).where(KnowledgeHintRow.incident_id == incident_id)
        return (await self._session.scalars(query)).one_or_none()

    async def hints_behind(self, *, platform: str, limit: int = 50) -> list[KnowledgeHintRow]:
        """Matched hints whose reply on `platform` is missing or old, for incidents whose root
        message is posted there (the reply goes in its thread)."""
        query = (
            select(KnowledgeHintRow)
            .join(
                ChatThreadRow,
                (ChatThreadRow.incident_id == KnowledgeHintRow.incident_id)
                & (ChatThreadRow.platform == platform)
                & ChatThreadRow.message_id.is_not(None),
            )
            .outerjoin(
                ChatMessageRow,
                (ChatMessageRow.kind == HINT_MESSAGE)
                & (ChatMessageRow.key == cast(KnowledgeHintRow.incident_id, String))
                & (ChatMessageRow.platform == platform),
            )
            .where(
                KnowledgeHintRow.matched.is_(True),
                (ChatMessageRow.id.is_(None))
                | (ChatMessageRow.rendered_revision < KnowledgeHintRow.revision),
            )
            .order_by(KnowledgeHintRow.id)
            .limit(limit)
        )
        return list((await self._session.scalars(query)).all())

    # --- answers ---
    async def add_answer(
        self,
        *,
        skill: str,
        incident_id: int | None,
        incident_kind: str,
        question: str,
        evidence: dict[str, Any],
        status: str,
        text: str | None,
        detail: dict[str, Any],
        requested_by: str,
        platform: str,
        channel: str,
        thread: str | None,
        now: datetime,
    ) -> KnowledgeAnswerRow:
        row = KnowledgeAnswerRow(
            skill=skill,
            incident_id=incident_id,
            incident_kind=incident_kind,
            question=question,
            evidence=evidence,
            status=status,
            text=text,
            detail=detail,
            requested_by=requested_by,
            platform=platform,
            channel=channel,
            thread=thread,
            revision=1,
            created_at=now,
            answered_at=now if status != "pending" else None,
        )
        self._session.add(row)
        await self._session.flush()
        return row

    async def answer(
        self, *, answer_id: int, for_update: bool = False
    ) -> KnowledgeAnswerRow | None:
        query = select(KnowledgeAnswerRow).where(KnowledgeAnswerRow.id == answer_id)
        if for_update:
            query = query.with_for_update()
        return (await self._session.scalars(query)).one_or_none()

    async def requeue_answers(self, *, claimed_before: datetime | None = None) -> int:
        """Answers left "writing" by a process that stopped go back to "pending": all of them
        (one process: it was this one), or those claimed before `claimed_before` (replicas:
        a younger claim belongs to a process that may still be writing it)."""
        query = select(KnowledgeAnswerRow).where(KnowledgeAnswerRow.status == "writing")
        rows = (await self._session.scalars(query.with_for_update(skip_locked=True))).all()
        requeued = 0
        for row in rows:
            claimed = row.detail.get("writing_since")
            if (
                claimed_before is not None
                and claimed is not None
                and datetime.fromisoformat(str(claimed)) >= claimed_before
            ):
                continue  # a live replica may still be writing it
            row.status = "pending"
            requeued += 1
        return requeued

    async def pending_answers(self, *, limit: int = 10) -> list[KnowledgeAnswerRow]:
        query = (
            select(KnowledgeAnswerRow)
            .where(KnowledgeAnswerRow.status == "pending")
            .order_by(KnowledgeAnswerRow.id)
            .limit(limit)
        )
        return list((await self._session.scalars(query)).all())

    async def answers_behind(self, *, platform: str, limit: int = 50) -> list[KnowledgeAnswerRow]:
        """Written (LLM) answers asked on `platform` whose message is missing or old."""
        query = (
            select(KnowledgeAnswerRow)
            .outerjoin(
                ChatMessageRow,
                (ChatMessageRow.kind == ANSWER_MESSAGE)
                & (ChatMessageRow.key == cast(KnowledgeAnswerRow.id, String))
                & (ChatMessageRow.platform == platform),
            )
            .where(
                KnowledgeAnswerRow.platform == platform,
                KnowledgeAnswerRow.status.in_(("pending", "writing", "answered", "failed")),
                (ChatMessageRow.id.is_(None))
                | (ChatMessageRow.rendered_revision < KnowledgeAnswerRow.revision),
            )
            .order_by(KnowledgeAnswerRow.id)
            .limit(limit)
        )
        return list((await self._session.scalars(query)).all())

    async def answer_counts(self, *, since: datetime | None = None) -> dict[str, int]:
        """How many answers each skill gave."""
        query = select(KnowledgeAnswerRow.skill, func.count()).group_by(KnowledgeAnswerRow.skill)
        if since is not None:
            query = query.where(KnowledgeAnswerRow.created_at >= since)
        return {str(s): int(n) for s, n in (await self._session.execute(query)).all()}


def record_written(
    row: KnowledgeAnswerRow, *, status: str, text: str | None, detail: dict[str, Any], now: datetime
) -> None:
    """The LLM's answer (or why there is none); the answer's message is re-rendered."""
    row.status = status
    row.text = text
    row.detail = {**row.detail, **detail}
    row.answered_at = now
    row.revision += 1
