"""`lookout audit export`: the audit log from a time on, as JSON lines or CSV, in id order."""

from __future__ import annotations

import csv
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from bot.settings import Settings
from skills.commands.audit import parse_since
from skills.errors import UsageError
from storage.audit import AuditEntry
from storage.database import Database

COLUMNS = (
    "id",
    "at",
    "platform",
    "user_id",
    "user_name",
    "action",
    "target",
    "outcome",
    "project",
    "detail",
)


class ExportError(ValueError):
    """A bad `--since`, `--until` or `--format`: the message is one plain line."""


def moment(text: str, flag: str, now: datetime) -> datetime:
    """`--since`/`--until` as UTC: a date, a time (`2026-11-01T08:00Z`) or a span back from
    `now` (`7d`). Raises ExportError."""
    try:
        return parse_since(text, now)
    except UsageError:
        raise ExportError(
            f"{flag} {text!r} is neither a date (2026-11-01), a time (2026-11-01T08:00Z) "
            "nor a span (7d)"
        ) from None


def write_entry(
    entry: AuditEntry, kind: str, out: TextIO, writer: csv.DictWriter[str] | None
) -> None:
    record = entry.record()
    if kind == "jsonl":
        out.write(json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n")
        return
    assert writer is not None
    writer.writerow(
        {
            **{key: "" if value is None else value for key, value in record.items()},
            "detail": json.dumps(record["detail"], ensure_ascii=False, sort_keys=True),
        }
    )


async def export(
    settings: Settings,
    *,
    since: str,
    until: str | None,
    kind: str,
    output: Path | None,
    now: datetime | None = None,
) -> int:
    """Write every entry at or after `since` (before `until`) to `output` (stdout when None);
    returns how many. Raises ExportError for bad arguments, OSError for an unwritable file."""
    now = now or datetime.now(UTC)
    start = moment(since, "--since", now)
    end = moment(until, "--until", now) if until else None
    if kind not in ("jsonl", "csv"):
        raise ExportError(f"--format {kind!r}: say jsonl or csv")
    database = Database(settings.resolved_database_url(), pool=settings.database_pool())
    out: TextIO = output.open("w", encoding="utf-8", newline="") if output else sys.stdout
    count = 0
    try:
        await database.upgrade()
        writer = None
        if kind == "csv":
            writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
            writer.writeheader()
        async with database.unit_of_work() as uow:
            async for entry in uow.audit.stream(since=start, until=end):
                write_entry(entry, kind, out, writer)
                count += 1
        out.flush()
    finally:
        if output:
            out.close()
        await database.dispose()
    return count
