"""Shared fixtures: real SQLite files, PostgreSQL when it answers, a real server on loopback.

`--database` picks the store a run uses:

- `both` (the default): the `database` fixture runs each of its tests on SQLite and, when it
  answers, on PostgreSQL; everything else uses SQLite files.
- `sqlite`: SQLite only.
- `postgresql`: the PostgreSQL pass. Every test that can store anything (it has a temp dir, a
  database, settings or a server) runs on a fresh PostgreSQL database of its own, created from a
  migrated template: `LOOKOUT_DATABASE_URL` names it, so `Settings`, `lookout serve` subprocesses
  and `database_url_for()` all use it. Tests that store nothing, and those marked `sqlite`
  (about the SQLite file itself, or not about the store), are left to the SQLite pass; tests
  marked `postgresql` (the replicas) are not part of the SQLite pass.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import uvicorn
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from bot.main import Lookout, http_server
from bot.settings import Settings
from storage.database import Database, sqlite_url

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO.parent / "shared" / "fixtures"
POSTGRES_ADMIN_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
POSTGRES_ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/test"
DATABASE_MODES = ("both", "sqlite", "postgresql")
# Fixtures a test that may store something has (directly or through another fixture).
STORING_FIXTURES = frozenset(
    {"tmp_path", "tmp_path_factory", "database", "postgres_url", "settings", "server"}
)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--database",
        choices=DATABASE_MODES,
        default="both",
        help="both: `database` on SQLite and PostgreSQL, the rest on SQLite; sqlite: SQLite "
        "only; postgresql: every storing test on its own PostgreSQL database",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "sqlite: SQLite pass only (about the SQLite file, or not about the store)"
    )
    config.addinivalue_line("markers", "postgresql: needs PostgreSQL (PostgreSQL pass only)")


def database_mode(config: pytest.Config) -> str:
    return str(config.getoption("--database"))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Keep the tests the chosen `--database` runs; report the rest as deselected."""
    mode = database_mode(config)
    if mode == "both":
        return
    kept: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    for item in items:
        param = getattr(getattr(item, "callspec", None), "params", {}).get("database")
        fixtures = set(getattr(item, "fixturenames", ()))
        if mode == "sqlite":
            keep = param != "postgresql" and item.get_closest_marker("postgresql") is None
        else:
            keep = (
                param != "sqlite"
                and item.get_closest_marker("sqlite") is None
                and (bool(fixtures & STORING_FIXTURES) or item.get_closest_marker("postgresql"))
            )
        (kept if keep else dropped).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def fixture_json(*parts: str) -> Any:
    return json.loads((FIXTURES.joinpath(*parts)).read_text())


_POSTGRES_SKIP: list[str | None] = []


async def postgres_skip_reason() -> str | None:
    """None when PostgreSQL answers on 127.0.0.1:5432, else why not (asked once per run)."""
    if not _POSTGRES_SKIP:
        engine = create_async_engine(POSTGRES_ADMIN_URL)
        try:
            async with asyncio.timeout(5), engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
            _POSTGRES_SKIP.append(None)
        except Exception as error:
            _POSTGRES_SKIP.append(f"PostgreSQL at 127.0.0.1:5432 did not answer ({error!r})")
        finally:
            await engine.dispose()
    return _POSTGRES_SKIP[0]


@asynccontextmanager
async def fresh_postgres() -> AsyncIterator[str]:
    """A new PostgreSQL database for one test, dropped afterwards; skips without a server."""
    reason = await postgres_skip_reason()
    if reason:
        print(f"skipping: {reason}")
        pytest.skip(reason)
    name = f"lookout_test_{uuid.uuid4().hex[:12]}"
    admin = create_async_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    async with admin.connect() as connection:
        await connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    finally:
        async with admin.connect() as connection:
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    async with fresh_postgres() as url:
        yield url


def _postgres_answers() -> str | None:
    """None when PostgreSQL answers, else why not (asked through the synchronous driver)."""
    try:
        with psycopg.connect(POSTGRES_ADMIN_DSN, connect_timeout=5):
            return None
    except psycopg.Error as error:
        return f"PostgreSQL at 127.0.0.1:5432 did not answer ({error!r})"


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[str]:
    """A migrated PostgreSQL database that each test's database is copied from (a copy takes
    milliseconds; migrating takes a second), dropped at the end of the run."""
    reason = _postgres_answers()
    if reason:
        pytest.skip(reason)
    name = f"lookout_template_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES_ADMIN_DSN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    failure: list[BaseException] = []

    def migrate() -> None:
        async def run() -> None:
            db = Database(f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}")
            try:
                await db.upgrade()
            finally:
                await db.dispose()

        try:
            asyncio.run(run())
        except BaseException as error:
            failure.append(error)

    worker = threading.Thread(target=migrate)  # outside any running event loop
    worker.start()
    worker.join()
    try:
        if failure:
            raise failure[0]
        yield name
    finally:
        with psycopg.connect(POSTGRES_ADMIN_DSN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(autouse=True)
def _postgres_pass(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """In the PostgreSQL pass: this test's own migrated database, named by
    `LOOKOUT_DATABASE_URL`, dropped afterwards. Otherwise nothing."""
    fixtures = set(request.fixturenames)
    if database_mode(request.config) != "postgresql" or fixtures & {"database", "postgres_url"}:
        yield None
        return
    template = request.getfixturevalue("postgres_template")
    with template_copy(template) as url, pytest.MonkeyPatch.context() as patch:
        patch.setenv("LOOKOUT_DATABASE_URL", url)
        yield url


@contextmanager
def template_copy(template: str) -> Iterator[str]:
    """A migrated PostgreSQL database of its own, copied from `template`, dropped after."""
    name = f"lookout_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES_ADMIN_DSN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    try:
        yield f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(POSTGRES_ADMIN_DSN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def database_url_for(data_dir: Path) -> str:
    """The database a test stores into: the PostgreSQL pass's (`LOOKOUT_DATABASE_URL`), else a
    SQLite file under `data_dir`."""
    return os.environ.get("LOOKOUT_DATABASE_URL") or sqlite_url(data_dir)


@pytest.fixture(params=["sqlite", "postgresql"])
async def database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    """A migrated database: a real SQLite file, and PostgreSQL when it answers."""
    async with AsyncExitStack() as stack:
        if request.param == "sqlite":
            url = sqlite_url(tmp_path)
        else:
            url = await stack.enter_async_context(fresh_postgres())
        db = Database(url)
        stack.push_async_callback(db.dispose)
        await db.upgrade()
        yield db


@dataclass
class RunningServer:
    url: str
    lookout: Lookout

    def client(self, **kwargs: Any) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.url, timeout=30, **kwargs)


async def start_server(
    settings: Settings, *, demo: bool = False
) -> tuple[uvicorn.Server, asyncio.Task[None], RunningServer]:
    lookout, server = http_server(settings, demo=demo)
    task = asyncio.create_task(server.serve())
    # Generous: the demo seeds its history and loads the sentence model first, and a busy
    # 2-core machine running two test workers can take several seconds for that.
    deadline = asyncio.get_running_loop().time() + 60
    while not server.started:
        if task.done():
            task.result()
        if asyncio.get_running_loop().time() > deadline:
            raise RuntimeError("the test server did not start")
        await asyncio.sleep(0.01)
    return (
        server,
        task,
        RunningServer(url=f"http://{settings.host}:{settings.port}", lookout=lookout),
    )


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", host="127.0.0.1", port=free_port())


@pytest.fixture
async def server(settings: Settings) -> AsyncIterator[RunningServer]:
    """Lookout on a loopback port with a fresh SQLite file, no token (loopback only)."""
    uvicorn_server, task, running = await start_server(settings)
    try:
        yield running
    finally:
        uvicorn_server.should_exit = True
        await asyncio.wait_for(task, timeout=10)


@pytest.fixture
def alertmanager_fixtures() -> Iterator[Path]:
    folder = FIXTURES / "alertmanager"
    if not folder.is_dir():
        pytest.skip(f"the shared fixtures are not at {folder}")
    yield folder
