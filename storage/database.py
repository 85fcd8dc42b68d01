"""The database: engine, migrations, and units of work."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import event, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.sql.expression import Executable

from storage.uow import UnitOfWork

MIGRATIONS = Path(__file__).parent / "migrations"
# PostgreSQL advisory lock key held while migrating: replicas starting together migrate one
# at a time (the first applies the migrations, the others find the schema at head).
MIGRATION_LOCK = 0x4C4F4F4B4F5554  # "LOOKOUT"
CONNECT_TIMEOUT = 10.0  # seconds to open a PostgreSQL connection
# Connections of the pool for single statements on a latency path (`Database.autocommit`).
AUTOCOMMIT_POOL = 2


def unavailable_reason(error: BaseException) -> str | None:
    """Why `error` means the database cannot serve right now (unreachable, a connection
    dropped, locked or read-only), in a few words; None for any other error (a bug, a
    constraint violation), which is not the database's availability."""
    for cause in _chain(error):
        if isinstance(cause, OperationalError | InterfaceError) or (
            isinstance(cause, DBAPIError) and cause.connection_invalidated
        ):
            detail = str(cause.orig or cause).strip().splitlines()
            return detail[0][:200] if detail and detail[0] else type(cause).__name__
        if isinstance(cause, OSError | TimeoutError):
            return str(cause).strip()[:200] or type(cause).__name__
        if type(cause).__module__.startswith("asyncpg") and (
            "Connection" in type(cause).__name__ or "Cannot" in type(cause).__name__
        ):
            return str(cause).strip()[:200] or type(cause).__name__
    return None


# SQLSTATE of a transaction PostgreSQL failed to break a deadlock, and of a serialization
# failure: both succeed when run again.
_RETRYABLE = frozenset({"40P01", "40001"})


def is_deadlock(error: BaseException) -> bool:
    """Whether `error` is PostgreSQL failing a transaction to break a deadlock (or a
    serialization failure): run again, it succeeds."""
    return any(getattr(cause, "sqlstate", None) in _RETRYABLE for cause in _chain(error))


def _chain(error: BaseException) -> list[BaseException]:
    found: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in found and len(found) < 10:
        found.append(current)
        current = current.__cause__ or current.__context__
    return found


def sqlite_url(data_dir: Path) -> str:
    return f"sqlite+aiosqlite:///{(data_dir / 'lookout.db').resolve()}"


def check_pooled_connection(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """Test a pooled asyncpg connection as it is handed out: one simple-protocol `SELECT 1` (a
    single round trip, and safe behind PgBouncer in transaction mode), answered within
    `CONNECT_TIMEOUT` seconds. A connection that fails it is replaced: the pool discards it
    and tries another, as SQLAlchemy's "pessimistic" disconnect handling does
    (PoolEvents.checkout, DisconnectionError)."""
    try:
        dbapi_connection.run_async(
            lambda driver: driver.execute("SELECT 1", timeout=CONNECT_TIMEOUT)
        )
    except Exception as error:  # asyncpg's errors, OSError, a timeout: all mean "replace it"
        raise DisconnectionError(f"a pooled connection failed its test: {error!r}") from error


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # The driver's own transaction handling is off: it would BEGIN only before a write, so a
    # SAVEPOINT taken first would start the transaction and its RELEASE commit everything
    # before the unit of work ends. SQLAlchemy emits BEGIN itself (`_sqlite_begin`); see
    # "Serializable isolation / Savepoints / Transactional DDL" in SQLAlchemy's SQLite docs.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _sqlite_begin(connection: Any) -> None:
    connection.exec_driver_sql("BEGIN")


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


@dataclass(frozen=True)
class PoolSettings:
    """The connection pool of a server database (PostgreSQL); SQLite keeps its defaults.

    `size` connections stay open, up to `overflow` more open under load (each is closed when
    it is returned while `size` are idle, so a `size` under the usual number of units of work
    at once reconnects all the time: a new PostgreSQL connection forks a server process and
    repeats the driver's setup), and a unit of work
    waits at most `timeout` seconds for a free one (then `sqlalchemy.exc.TimeoutError`).
    `pre_ping` tests a connection before handing it out, so one cut by a database restart or
    failover is replaced instead of failing a request; `recycle` (seconds) reopens connections
    older than that, under the idle timeouts of proxies such as PgBouncer. Each replica holds
    at most `size + overflow` connections, plus two of the scheduler's job store.
    """

    size: int = 10
    overflow: int = 10
    timeout: float = 30.0
    pre_ping: bool = True
    recycle: int = 1800


class Database:
    """Owns the engine. On SQLite, units of work run one at a time: SQLite has one writer,
    and serializing here avoids `database is locked` under concurrent deliveries."""

    def __init__(self, url: str, *, echo: bool = False, pool: PoolSettings | None = None) -> None:
        self.url = url
        asyncpg = url.startswith("postgresql+asyncpg")
        options: dict[str, Any] = {}
        if not url.startswith("sqlite"):
            pool = pool or PoolSettings()
            options = {
                "pool_size": pool.size,
                "max_overflow": pool.overflow,
                "pool_timeout": pool.timeout,
                # On asyncpg a connection is tested by `check_pooled_connection` (one round
                # trip), not by SQLAlchemy's pre-ping, which takes three there (BEGIN, ";",
                # ROLLBACK).
                "pool_pre_ping": pool.pre_ping and not asyncpg,
                "pool_recycle": pool.recycle,
            }
        if asyncpg:
            # A server that takes the connection and never answers fails it in 10 s, not
            # asyncpg's default 60 s.
            options["connect_args"] = {"timeout": CONNECT_TIMEOUT}
        self.engine: AsyncEngine = create_async_engine(url, echo=echo, **options)
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        if asyncpg and pool is not None and pool.pre_ping:
            event.listen(self.engine.sync_engine, "checkout", check_pooled_connection)
        if self.is_sqlite:
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
            event.listen(self.engine.sync_engine, "begin", _sqlite_begin)
        self._sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._sqlite_lock = asyncio.Lock()
        self._autocommit: AsyncEngine | None = None
        if not self.is_sqlite and pool is not None:
            # No pre-ping: a statement on a dropped connection fails as a disconnect, which
            # empties this pool, and `autocommit` runs it once more on a new connection.
            self._autocommit = create_async_engine(
                url,
                echo=echo,
                pool_size=AUTOCOMMIT_POOL,
                max_overflow=AUTOCOMMIT_POOL,
                pool_timeout=pool.timeout,
                pool_recycle=pool.recycle,
                isolation_level="AUTOCOMMIT",
                connect_args=options.get("connect_args", {}),
            )

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
        """Apply Alembic migrations up to head on this engine's connection.

        Replicas starting together on one PostgreSQL database migrate one at a time: the
        first holds a transaction-scoped advisory lock while it migrates (PostgreSQL's DDL
        is transactional), the others then find the schema at head and do nothing."""
        config = alembic_config(self.url)

        def run(connection: Connection) -> None:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

        async with self.engine.begin() as connection:
            if self.engine.dialect.name == "postgresql":
                await connection.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK}
                )
            await connection.run_sync(run)

    async def current_revision(self) -> str | None:
        def read(connection: Connection) -> str | None:
            return MigrationContext.configure(connection).get_current_revision()

        async with self.engine.connect() as connection:
            return await connection.run_sync(read)

    @staticmethod
    def head_revision() -> str | None:
        return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()

    def on_connect(self, callback: Callable[[], object]) -> None:
        """Call `callback` each time the pool opens a connection (for counting them)."""
        event.listen(self.engine.sync_engine, "connect", lambda _connection, _record: callback())

    async def ping(self) -> None:
        async with self.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    async def autocommit(self, statement: Executable) -> Any:
        """Run one statement that stands alone, committed as it runs, and return the first
        column of its first row (None without rows): one round trip, with no BEGIN and
        COMMIT around it, on a small pool of its own (`AUTOCOMMIT_POOL` connections and as
        many more while busy) so that it never waits behind units of work. For a check on a
        latency path, such as recording a signature before acknowledging a request. On
        SQLite it is a unit of work. A dropped connection is retried once on a new one;
        other errors are raised (SQLAlchemy's)."""
        if self._autocommit is None:
            async with self.unit_of_work() as uow:
                return (await uow.session.execute(statement)).scalar_one_or_none()
        try:
            async with self._autocommit.connect() as connection:
                return (await connection.execute(statement)).scalar_one_or_none()
        except DBAPIError as error:
            if not error.connection_invalidated:
                raise
        async with self._autocommit.connect() as connection:
            return (await connection.execute(statement)).scalar_one_or_none()

    async def dispose(self) -> None:
        if self._autocommit is not None:
            await self._autocommit.dispose()
        await self.engine.dispose()
