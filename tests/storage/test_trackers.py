"""Blast trackers on a real SQLite file and on PostgreSQL at 127.0.0.1:5432 when it answers."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Connection

from storage.database import Database
from storage.models import Base
from storage.trackers import BLAST_MESSAGE
from tests.storage.test_repositories import T0, new_incident

SNAPSHOT: dict[str, Any] = {"service": "postgres", "statuses": {"api": "failing"}}


async def open_tracker(
    database: Database, incident_id: int, *, service: str = "postgres", platform: str = "slack"
) -> tuple[int, bool]:
    async with database.unit_of_work() as uow:
        row, created = await uow.trackers.open(
            incident_id=incident_id,
            service=service,
            platform=platform,
            channel="C0INCIDENTS",
            thread_id="1700000000.000100",
            requested_by="alice",
            snapshot=SNAPSHOT,
            now=T0,
        )
        return row.id, created


async def test_the_table_matches_the_models(database: Database) -> None:
    """Migration 0005 creates exactly what the model describes (columns, keys, indexes)."""

    def differences(connection: Connection) -> list[Any]:
        found = compare_metadata(MigrationContext.configure(connection), Base.metadata)
        return [d for d in found if "blast_trackers" in repr(d)]

    async with database.engine.connect() as connection:
        assert await connection.run_sync(differences) == []


async def test_one_tracker_per_incident_service_and_platform(database: Database) -> None:
    incident_id = await new_incident(database)
    results = await asyncio.gather(*(open_tracker(database, incident_id) for _ in range(4)))
    assert [created for _, created in results].count(True) == 1
    assert len({tracker_id for tracker_id, _ in results}) == 1
    _, created = await open_tracker(database, incident_id, service="redis")
    _, created_too = await open_tracker(database, incident_id, platform="teams")
    assert created and created_too
    async with database.unit_of_work() as uow:
        rows = await uow.trackers.for_incident(incident_id=incident_id)
    assert [(r.service, r.platform, r.revision, r.live) for r in rows] == [
        ("postgres", "slack", 1, True),
        ("redis", "slack", 1, True),
        ("postgres", "teams", 1, True),
    ]
    assert rows[0].snapshot == SNAPSHOT and rows[0].created_at == T0


async def test_recording_bumps_the_revision_and_final_ones_leave_the_live_list(
    database: Database,
) -> None:
    incident_id = await new_incident(database)
    tracker_id, _ = await open_tracker(database, incident_id)
    later = T0 + timedelta(minutes=2)
    async with database.unit_of_work() as uow:
        [row] = await uow.trackers.live(for_update=True)
        changed = {**SNAPSHOT, "statuses": {"api": "failing", "web": "degraded"}}
        await uow.trackers.record(row=row, snapshot=changed, now=later)
    async with database.unit_of_work() as uow:
        [row] = await uow.trackers.live()
        assert (row.id, row.revision, row.updated_at) == (tracker_id, 2, later)
        assert row.snapshot["statuses"] == {"api": "failing", "web": "degraded"}
        await uow.trackers.record(row=row, snapshot={**SNAPSHOT, "final": "done"}, now=later)
        assert row.revision == 3
        row.live = False
    async with database.unit_of_work() as uow:
        assert await uow.trackers.live() == []
        [row] = await uow.trackers.for_incident(incident_id=incident_id)
    assert (row.revision, row.live, row.snapshot["final"]) == (3, False, "done")


async def test_behind_follows_what_each_platform_rendered(database: Database) -> None:
    incident_id = await new_incident(database)
    tracker_id, _ = await open_tracker(database, incident_id)
    async with database.unit_of_work() as uow:
        assert [t.id for t in await uow.trackers.behind(platform="slack")] == [tracker_id]
        assert await uow.trackers.behind(platform="teams") == []  # asked on Slack
        message = await uow.messages.claim(
            kind=BLAST_MESSAGE,
            key=str(tracker_id),
            platform="slack",
            channel="C0INCIDENTS",
            thread_id=None,
            now=T0,
        )
        assert message is not None
        assert [t.id for t in await uow.trackers.behind(platform="slack")] == [tracker_id]
        await uow.messages.record_posted(
            row=message, message_id="1700000000.000200", thread_id="x", revision=1, now=T0
        )
        assert await uow.trackers.behind(platform="slack") == []
        [row] = await uow.trackers.live()
        await uow.trackers.record(row=row, snapshot=SNAPSHOT, now=T0)
        assert [t.id for t in await uow.trackers.behind(platform="slack")] == [tracker_id]
        # A run's message under the same key is another kind: it says nothing of this one.
        run = await uow.messages.claim(
            kind="run", key=str(tracker_id), platform="slack", channel="C", thread_id=None, now=T0
        )
        assert run is not None
        await uow.messages.record_rendered(row=run, revision=9, now=T0)
        assert [t.id for t in await uow.trackers.behind(platform="slack")] == [tracker_id]
        await uow.messages.record_rendered(row=message, revision=2, now=T0)
        assert await uow.trackers.behind(platform="slack") == []
