"""Work one process claimed and another may take over: a run's heartbeat and answers being
written, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from storage.database import Database

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


async def _writing(database: Database, question: str, since: datetime | None) -> int:
    detail = {"model": "m"} if since is None else {"model": "m", "writing_since": since.isoformat()}
    async with database.unit_of_work() as uow:
        row = await uow.knowledge.add_answer(
            skill="ask",
            incident_id=None,
            incident_kind="",
            question=question,
            evidence={},
            status="writing",
            text=None,
            detail=detail,
            requested_by="U1",
            platform="console",
            channel="#incidents",
            thread=None,
            now=NOW,
        )
        return row.id


async def test_only_stale_answer_claims_are_taken_over(database: Database) -> None:
    old = await _writing(database, "old", NOW - timedelta(minutes=10))
    young = await _writing(database, "young", NOW - timedelta(seconds=10))
    unknown = await _writing(database, "from before claims had a time", None)
    async with database.unit_of_work() as uow:
        taken = await uow.knowledge.requeue_answers(claimed_before=NOW - timedelta(minutes=5))
    assert taken == 2
    async with database.unit_of_work() as uow:
        statuses = {
            answer_id: (await uow.knowledge.answer(answer_id=answer_id)).status  # type: ignore[union-attr]
            for answer_id in (old, young, unknown)
        }
    assert statuses == {old: "pending", young: "writing", unknown: "pending"}
    async with database.unit_of_work() as uow:  # one process: everything it was writing
        assert await uow.knowledge.requeue_answers() == 1
