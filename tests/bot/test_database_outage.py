"""A database that goes away briefly: webhooks get 503 with Retry-After (Alertmanager sends
again), `/readyz` says why, what was accepted before is kept, and the same process serves
again when the database is back — no restart. On PostgreSQL behind a loopback TCP proxy
that the test stops and starts, and with the pool's connections terminated on the server;
on SQLite with the file's write lock held by another connection."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import create_async_engine

from bot.main import build
from bot.settings import Settings
from storage.database import Database, check_pooled_connection
from tests.bot.tcp_proxy import TcpProxy
from tests.conftest import RunningServer, free_port, fresh_postgres, start_server
from tests.knowledge.test_knowledge_server import alert


@pytest.fixture
async def postgres() -> AsyncIterator[str]:
    async with fresh_postgres() as url:
        yield url


async def alertnames(url: str) -> list[str]:
    """The alerts stored, read straight from the database (not through Lookout)."""
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(text("SELECT labels FROM alerts ORDER BY id"))
            return [row[0]["alertname"] for row in rows]
    finally:
        await engine.dispose()


async def post(running: RunningServer, body: dict[str, Any]) -> Any:
    async with running.client() as client:
        return await client.post("/webhooks/alertmanager", json=body)


async def readyz(running: RunningServer) -> Any:
    async with running.client() as client:
        return await client.get("/readyz")


async def test_postgres_away_and_back_behind_a_proxy(postgres: str, tmp_path: Path) -> None:
    proxy = TcpProxy("127.0.0.1", 5432)
    await proxy.start()
    config = tmp_path / "lookout.yml"
    config.write_text("knowledge: {enabled: false}\ncontext_posts: {enabled: false}\n")
    settings = Settings(
        data_dir=tmp_path / "data",
        port=free_port(),
        config=config,
        database_url=postgres.replace(":5432/", f":{proxy.port}/"),
    )
    now = datetime.now(UTC)
    server, task, running = await start_server(settings)
    try:
        first = await post(running, alert("DiskFull", "search", "disk 97 % full", now))
        assert first.status_code == 200, first.text

        await proxy.stop()
        refused = await post(running, alert("HighLatency", "checkout", "p95 2 s", now))
        assert refused.status_code == 503, refused.text
        assert refused.headers["retry-after"] == "10"
        assert refused.json()["detail"].startswith("the database is unavailable (")
        assert refused.json()["detail"].endswith("nothing was stored, send it again")
        not_ready = await readyz(running)
        assert not_ready.status_code == 503
        assert not_ready.json()["reason"].startswith("database unreachable: "), not_ready.json()
        # A console read fails the same way, not with a 500.
        async with running.client() as client:
            listing = await client.get("/console/api/incidents")
        assert listing.status_code == 503 and "retry-after" in listing.headers

        await proxy.start()
        # Alertmanager sends the same notification again: now it is taken.
        again = await post(running, alert("HighLatency", "checkout", "p95 2 s", now))
        assert again.status_code == 200, again.text
        assert again.json()["new"] == 1
        ready = await readyz(running)
        assert ready.status_code == 200, ready.json()
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=10)
        await proxy.stop()
    assert await alertnames(postgres) == ["DiskFull", "HighLatency"]


async def test_a_database_that_never_answers_is_a_503_within_its_timeouts(
    postgres: str, tmp_path: Path
) -> None:
    proxy = TcpProxy("127.0.0.1", 5432)
    await proxy.start()
    config = tmp_path / "lookout.yml"
    config.write_text("knowledge: {enabled: false}\ncontext_posts: {enabled: false}\n")
    settings = Settings(
        data_dir=tmp_path / "data",
        port=free_port(),
        config=config,
        database_url=postgres.replace(":5432/", f":{proxy.port}/"),
    )
    now = datetime.now(UTC)
    server, task, running = await start_server(settings)
    try:
        await proxy.hang()
        not_ready = await readyz(running)
        assert not_ready.status_code == 503
        assert not_ready.json()["reason"] == "database did not answer within 5 s"
        # A new connection gives up after 10 s (asyncpg's own default is 60 s).
        refused = await post(running, alert("HighLatency", "checkout", "p95 2 s", now))
        assert refused.status_code == 503, refused.text
        assert refused.headers["retry-after"] == "10"
        await proxy.stop()
        await proxy.start()
        again = await post(running, alert("HighLatency", "checkout", "p95 2 s", now))
        assert again.status_code == 200, again.text
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=10)
        await proxy.stop()
    assert await alertnames(postgres) == ["HighLatency"]


async def terminate_connections(url: str) -> int:
    """pg_terminate_backend on every other connection to `url`'s database; how many."""
    admin = create_async_engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as connection:
            ended = await connection.execute(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = :name AND pid <> pg_backend_pid()"
                ),
                {"name": url.rsplit("/", 1)[1]},
            )
            return int(ended.scalar_one())
    finally:
        await admin.dispose()


async def test_terminated_connections_are_replaced_without_a_restart(postgres: str) -> None:
    database = Database(postgres)
    try:
        await database.upgrade()
        for _ in range(3):
            # Several connections in the pool, all of them cut on the server's side.
            async with database.unit_of_work() as one, database.unit_of_work() as two:
                assert await one.incidents.count_open() == await two.incidents.count_open()
            assert await terminate_connections(postgres) == 2
            async with database.unit_of_work() as uow:
                assert await uow.incidents.count_open() == 0
            await database.ping()
    finally:
        await database.dispose()


async def test_a_webhook_after_terminated_connections_is_taken(
    postgres: str, tmp_path: Path
) -> None:
    config = tmp_path / "lookout.yml"
    config.write_text("knowledge: {enabled: false}\ncontext_posts: {enabled: false}\n")
    settings = Settings(
        data_dir=tmp_path / "data", port=free_port(), config=config, database_url=postgres
    )
    now = datetime.now(UTC)
    server, task, running = await start_server(settings)
    try:
        for index in range(3):
            body = alert(f"Alert{index}", "search", "disk full", now - timedelta(minutes=index))
            assert (await post(running, body)).status_code == 200
            assert await terminate_connections(postgres) >= 1
        assert (await readyz(running)).status_code == 200
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=10)
    assert await alertnames(postgres) == ["Alert0", "Alert1", "Alert2"]


async def test_pool_settings_reach_the_engine(postgres: str, tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=postgres,
        database_pool_size=2,
        database_max_overflow=1,
    )
    lookout = build(settings)
    try:
        pool: Any = lookout.database.engine.pool
        assert (pool.size(), pool._max_overflow) == (2, 1)
        await lookout.database.upgrade()
        # Three units of work at once fit (2 + 1); a pooled connection is tested first.
        async with (
            lookout.database.unit_of_work() as one,
            lookout.database.unit_of_work() as two,
            lookout.database.unit_of_work() as three,
        ):
            counts = [await uow.incidents.count_open() for uow in (one, two, three)]
        assert counts == [0, 0, 0]
        # Tested with one round trip of its own, not SQLAlchemy's three-statement pre-ping.
        assert not pool._pre_ping
        assert event.contains(
            lookout.database.engine.sync_engine, "checkout", check_pooled_connection
        )
    finally:
        await lookout.http.aclose()
        await lookout.database.dispose()


@pytest.mark.sqlite
async def test_a_locked_sqlite_file_is_a_503_then_served_again(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", port=free_port())
    now = datetime.now(UTC)
    server, task, running = await start_server(settings)
    try:
        # Another process holds the write lock past Lookout's busy timeout (10 s).
        holder = sqlite3.connect(tmp_path / "data" / "lookout.db", isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")
        try:
            locked = await post(running, alert("DiskFull", "search", "disk 97 % full", now))
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        assert locked.status_code == 503, locked.text
        assert locked.headers["retry-after"] == "10"
        assert "database is locked" in locked.json()["detail"]
        again = await post(running, alert("DiskFull", "search", "disk 97 % full", now))
        assert again.status_code == 200 and again.json()["new"] == 1, again.text
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=10)
