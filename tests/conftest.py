"""Shared fixtures: real SQLite files, PostgreSQL when it answers, a real server on loopback."""

from __future__ import annotations

import asyncio
import json
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
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
    for _ in range(500):
        if server.started:
            break
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    else:
        raise RuntimeError("the test server did not start")
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
