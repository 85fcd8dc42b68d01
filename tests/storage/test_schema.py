"""The migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from storage.database import Database, sqlite_url
from storage.models import Base

# APScheduler's job store defines its own table (its test compares it with that definition).
FOREIGN_TABLES = ("apscheduler_jobs",)


async def test_every_table_matches_its_model(database: Database) -> None:
    def differences(connection: Connection) -> list[Any]:
        found = compare_metadata(MigrationContext.configure(connection), Base.metadata)
        return [item for item in found if not any(name in repr(item) for name in FOREIGN_TABLES)]

    async with database.engine.connect() as connection:
        assert await connection.run_sync(differences) == []


def _shape(connection: Connection) -> dict[str, Any]:
    """Tables with their columns (name, nullability), keys, unique constraints, indexes and
    foreign keys, as the database itself reports them."""
    inspector = inspect(connection)
    shape: dict[str, Any] = {}
    for table in sorted(inspector.get_table_names()):
        shape[table] = {
            "columns": [(c["name"], c["nullable"]) for c in inspector.get_columns(table)],
            "primary key": inspector.get_pk_constraint(table)["constrained_columns"],
            "unique": sorted(
                tuple(u["column_names"]) for u in inspector.get_unique_constraints(table)
            ),
            "indexes": sorted(
                (i["name"], tuple(i["column_names"]), bool(i["unique"]))
                for i in inspector.get_indexes(table)
                if not i.get("duplicates_constraint")  # PostgreSQL backs a unique key with one
            ),
            "foreign keys": sorted(
                (tuple(f["constrained_columns"]), f["referred_table"], f["options"].get("ondelete"))
                for f in inspector.get_foreign_keys(table)
            ),
        }
    return shape


@pytest.mark.postgresql
async def test_the_migrations_build_the_same_schema_on_sqlite_and_postgresql(
    tmp_path: Path, postgres_url: str
) -> None:
    shapes = []
    for url in (sqlite_url(tmp_path), postgres_url):
        db = Database(url)
        await db.upgrade()
        async with db.engine.connect() as connection:
            shapes.append(await connection.run_sync(_shape))
        await db.dispose()
    sqlite, postgresql = shapes
    assert set(sqlite) == set(postgresql)
    for table in sqlite:
        assert sqlite[table] == postgresql[table], table
