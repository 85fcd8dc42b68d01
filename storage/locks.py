"""PostgreSQL advisory locks that serialize writers across replicas."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

# Held by every writer that re-derives incidents from their alerts — ingestion, and the
# re-weighing of open incidents when a change lands — on every replica: they lock incident
# rows in different orders, so they take turns ("LOOKOUT1" in ASCII).
INGEST_LOCK = 0x4C4F4F4B4F555431


async def hold(session: AsyncSession, key: int) -> None:
    """Serialize the session's transaction with every other holder of `key`, across
    replicas, until it ends: a transaction-scoped advisory lock on PostgreSQL; nothing on
    SQLite, where the database already runs one unit of work at a time."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
