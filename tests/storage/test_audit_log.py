"""The audit log on a real database: append-only, filtered reads, export order, retention."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from storage.audit import AuditLogIsAppendOnly, AuditRepository
from storage.database import Database
from storage.models import AuditRow

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


async def write(database: Database, *entries: tuple[str, str, str | None, str | None, int]) -> None:
    """(user, action, target, project, minutes after T0) each."""
    async with database.unit_of_work() as uow:
        for user, action, target, project, minutes in entries:
            await uow.audit.record(
                at=T0 + timedelta(minutes=minutes),
                platform="console",
                user_id=user,
                user_name=user.title(),
                action=action,
                target=target,
                detail={"command": f"{action} {target or ''}".strip()},
                outcome="ok",
                project=project,
            )


async def test_an_entry_cannot_be_changed_or_deleted_through_the_repository(
    database: Database,
) -> None:
    await write(database, ("alice", "ack", "INC-1", "payments", 0))
    assert not any(
        name.startswith(("update", "delete", "set", "change", "edit", "remove"))
        for name in dir(AuditRepository)
    )
    async with database.unit_of_work() as uow:
        [entry] = await uow.audit.recent()
        with pytest.raises(dataclasses.FrozenInstanceError):
            entry.outcome = "denied"  # type: ignore[misc]
        entry.detail["command"] = "resolve INC-1"  # a copy: the row does not see it
    with pytest.raises(AuditLogIsAppendOnly):
        async with database.unit_of_work() as uow:
            row = await uow.session.get(AuditRow, entry.id)
            assert row is not None
            row.outcome = "denied"
    with pytest.raises(AuditLogIsAppendOnly):
        async with database.unit_of_work() as uow:
            row = await uow.session.get(AuditRow, entry.id)
            await uow.session.delete(row)
    async with database.unit_of_work() as uow:
        [stored] = await uow.audit.recent()
    assert (stored.outcome, stored.detail) == ("ok", {"command": "ack INC-1"})


async def test_find_filters_by_user_incident_time_and_project(database: Database) -> None:
    await write(
        database,
        ("alice", "ack", "INC-1", "payments", 0),
        ("bob", "ack", "INC-2", "platform", 1),
        ("alice", "note", "INC-1", "payments", 2),
        ("lookout", "config.load", None, None, 3),
    )
    async with database.unit_of_work() as uow:
        everything = await uow.audit.find()
        alices = await uow.audit.find(user="ALICE")
        by_name = await uow.audit.find(user="Bob")
        inc1 = await uow.audit.find(target="INC-1")
        later = await uow.audit.find(since=T0 + timedelta(minutes=2))
        payments = await uow.audit.find(projects={"payments"}, unscoped=False)
        payments_and_none = await uow.audit.find(projects={"payments"})
        newest = await uow.audit.find(limit=1)
    assert [e.action for e in everything] == ["config.load", "note", "ack", "ack"]
    assert [e.action for e in alices] == ["note", "ack"]
    assert [e.user_id for e in by_name] == ["bob"]
    assert [e.action for e in inc1] == ["note", "ack"]
    assert [e.action for e in later] == ["config.load", "note"]
    assert {e.project for e in payments} == {"payments"} and len(payments) == 2
    assert {e.project for e in payments_and_none} == {"payments", None}
    assert [e.action for e in newest] == ["config.load"]


async def test_stream_reads_in_id_order_batch_by_batch(database: Database) -> None:
    await write(database, *[("alice", "ack", f"INC-{n}", None, n) for n in range(7)])
    async with database.unit_of_work() as uow:
        streamed = [
            entry.target
            async for entry in uow.audit.stream(
                since=T0 + timedelta(minutes=1), until=T0 + timedelta(minutes=6), batch=2
            )
        ]
    assert streamed == ["INC-1", "INC-2", "INC-3", "INC-4", "INC-5"]


async def test_purge_deletes_only_entries_older_than_the_cutoff(database: Database) -> None:
    await write(database, ("alice", "ack", "INC-1", None, 0), ("bob", "ack", "INC-2", None, 10))
    async with database.unit_of_work() as uow:
        purged = await uow.audit.purge(before=T0 + timedelta(minutes=5))
    async with database.unit_of_work() as uow:
        left = await uow.audit.recent()
    assert purged == 1 and [e.user_id for e in left] == ["bob"]
