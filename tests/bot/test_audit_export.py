"""`lookout audit export`, run as a user would run it, on a real SQLite file."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from storage.database import Database, sqlite_url
from tests.bot.test_cli import lookout

# SQLite pass only: about the command line, not the store.
pytestmark = pytest.mark.sqlite

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


async def _fill(data_dir: Path) -> None:
    database = Database(sqlite_url(data_dir))
    try:
        await database.upgrade()
        async with database.unit_of_work() as uow:
            for day, (user, action, target) in enumerate(
                [
                    ("old", "ack", "INC-1"),
                    ("alice", "ack", "INC-2"),
                    ("bob", "role.grant", 'dana, the "lead"'),
                    ("alertmanager", "webhook", None),
                ]
            ):
                await uow.audit.record(
                    at=T0 + timedelta(days=day - 1),
                    platform="webhook" if user == "alertmanager" else "slack",
                    user_id=user,
                    user_name=user,
                    action=action,
                    target=target,
                    detail={"n": day, "text": "a,b\nc"},
                    outcome="ok",
                    project="payments" if day % 2 else None,
                )
    finally:
        await database.dispose()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "var"
    folder.mkdir()
    asyncio.run(_fill(folder))
    return folder


def test_jsonl_from_a_date_in_id_order(data_dir: Path) -> None:
    result = lookout(
        "audit", "export", "--since", "2026-11-01", env={"LOOKOUT_DATA_DIR": str(data_dir)}
    )
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["user_id"] for r in records] == ["alice", "bob", "alertmanager"]
    assert [r["id"] for r in records] == sorted(r["id"] for r in records)
    assert records[0] == {
        "id": records[0]["id"],
        "at": "2026-11-01T09:00:00+00:00",
        "platform": "slack",
        "user_id": "alice",
        "user_name": "alice",
        "action": "ack",
        "target": "INC-2",
        "outcome": "ok",
        "project": "payments",
        "detail": {"n": 1, "text": "a,b\nc"},
    }


def test_csv_to_a_file_with_a_header_and_an_end(data_dir: Path, tmp_path: Path) -> None:
    output = tmp_path / "audit.csv"
    result = lookout(
        "audit",
        "export",
        "--since",
        "2026-11-01",
        "--until",
        "2026-11-02T12:00:00Z",
        "--format",
        "csv",
        "--output",
        str(output),
        env={"LOOKOUT_DATA_DIR": str(data_dir)},
    )
    assert result.returncode == 0, result.stderr
    assert "2 audit entries written" in result.stderr
    text = output.read_text(encoding="utf-8")
    assert text.splitlines()[0] == (
        "id,at,platform,user_id,user_name,action,target,outcome,project,detail"
    )
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [row["user_id"] for row in rows] == ["alice", "bob"]
    assert rows[1]["target"] == 'dana, the "lead"' and rows[1]["project"] == ""
    assert json.loads(rows[1]["detail"]) == {"n": 2, "text": "a,b\nc"}


def test_a_bad_since_is_one_plain_line_and_exit_2(data_dir: Path) -> None:
    result = lookout(
        "audit", "export", "--since", "last tuesday", env={"LOOKOUT_DATA_DIR": str(data_dir)}
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        "lookout: --since 'last tuesday' is neither a date (2026-11-01), a time "
        "(2026-11-01T08:00Z) nor a span (7d)"
    ]
