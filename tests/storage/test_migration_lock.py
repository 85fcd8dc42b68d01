"""Replicas that start together migrate one at a time: on PostgreSQL the upgrade holds an
advisory lock, so two `lookout db upgrade` processes started at once on an empty database
both succeed, the schema ends at the latest migration, and each migration ran once."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from storage.database import Database
from tests.conftest import fresh_postgres

ROOT = Path(__file__).resolve().parents[2]


async def upgrade_in_a_process(url: str, data_dir: Path) -> tuple[int, str]:
    environment = {
        **os.environ,
        "LOOKOUT_DATABASE_URL": url,
        "LOOKOUT_DATA_DIR": str(data_dir),
        "PYTHONPATH": str(ROOT),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "db",
        "upgrade",
        env=environment,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    return process.returncode or 0, output.decode(errors="replace")


async def test_two_processes_migrating_at_once_both_succeed(tmp_path: Path) -> None:
    async with fresh_postgres() as url:
        results = await asyncio.gather(
            upgrade_in_a_process(url, tmp_path / "a"), upgrade_in_a_process(url, tmp_path / "b")
        )
        for code, output in results:
            assert code == 0, output
        engine = create_async_engine(url)
        try:
            async with engine.connect() as connection:
                versions = (await connection.execute(text("SELECT * FROM alembic_version"))).all()
        finally:
            await engine.dispose()
        assert [row[0] for row in versions] == [Database.head_revision()]
