"""The migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Connection

from storage.database import Database
from storage.models import Base

# APScheduler's job store defines its own table (its test compares it with that definition).
FOREIGN_TABLES = ("apscheduler_jobs",)


async def test_every_table_matches_its_model(database: Database) -> None:
    def differences(connection: Connection) -> list[Any]:
        found = compare_metadata(MigrationContext.configure(connection), Base.metadata)
        return [item for item in found if not any(name in repr(item) for name in FOREIGN_TABLES)]

    async with database.engine.connect() as connection:
        assert await connection.run_sync(differences) == []
