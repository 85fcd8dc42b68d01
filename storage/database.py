"""The database: engine, migrations, and units of work."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import event, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

from storage.uow import UnitOfWork

MIGRATIONS = Path(__file__).parent / "migrations"


def sqlite_url(data_dir: Path) -> str:
    return f"sqlite+aiosqlite:///{(data_dir / 'lookout.db').resolve()}"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


class Database:
    """Owns the engine. On SQLite, units of work run one at a time: SQLite has one writer,
    and serializing here avoids `database is locked` under concurrent deliveries."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        self.engine: AsyncEngine = create_async_engine(url, echo=echo)
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        if self.is_sqlite:
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        self._sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._sqlite_lock = asyncio.Lock()

    @asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[UnitOfWork]:
        """A transaction: committed when the block ends normally, rolled back otherwise."""
        if self.is_sqlite:
            async with self._sqlite_lock, self._sessions() as session, session.begin():
                yield UnitOfWork(session, dialect=self.engine.dialect.name)
        else:
            async with self._sessions() as session, session.begin():
                yield UnitOfWork(session, dialect=self.engine.dialect.name)

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[UnitOfWork]:
        """A unit of work that only reads, rolled back when the block ends. On SQLite it does
        not queue behind the writer: in WAL mode readers run beside it and see what was
        committed before each statement."""
        # Closing the session hands its connection back, which rolls the transaction back
        # (the pool's reset) without expiring the rows read, so they stay readable after.
        async with self._sessions() as session:
            yield UnitOfWork(session, dialect=self.engine.dialect.name)

    async def upgrade(self) -> None:
        """Apply Alembic migrations up to head on this engine's connection."""
        config = alembic_config(self.url)

        def run(connection: Connection) -> None:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

        async with self.engine.begin() as connection:
            await connection.run_sync(run)

    async def current_revision(self) -> str | None:
        def read(connection: Connection) -> str | None:
            return MigrationContext.configure(connection).get_current_revision()

        async with self.engine.connect() as connection:
            return await connection.run_sync(read)

    @staticmethod
    def head_revision() -> str | None:
        return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()

    async def ping(self) -> None:
        async with self.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.engine.dispose()
