"""Retention: once a day, delete what the `retention:` section says is old enough — whole
runbook step outputs (the runs and their step summaries stay), context snapshots and audit
entries. Incidents, their events and their alerts (whose labels and annotations incidents
are read from) are always kept. Each purge writes one audit entry with its counts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.config import RetentionRules
from storage.database import Database

RETENTION_JOB = "retention:purge"
RETENTION_ACTOR = ("scheduler", "lookout-retention", "Lookout retention")


@dataclass(frozen=True)
class PurgeReport:
    """How many rows one purge deleted, per kind."""

    raw_payloads: int = 0
    snapshots: int = 0
    audit_entries: int = 0

    def summary(self) -> str:
        return (
            f"purged {self.raw_payloads} step outputs, {self.snapshots} context snapshots, "
            f"{self.audit_entries} audit entries"
        )


def _cutoff(now: datetime, days: int | None) -> datetime | None:
    return None if days is None else now - timedelta(days=days)


async def purge(database: Database, rules: RetentionRules, *, now: datetime) -> PurgeReport:
    """Delete what is older than each configured number of days before `now`, and audit it,
    in one transaction."""
    raw_before = _cutoff(now, rules.raw_payloads_days)
    snapshots_before = _cutoff(now, rules.snapshots_days)
    audit_before = _cutoff(now, rules.audit_days)
    async with database.unit_of_work() as uow:
        report = PurgeReport(
            raw_payloads=await uow.runs.purge_outputs(before=raw_before) if raw_before else 0,
            snapshots=(
                await uow.contexts.purge(before=snapshots_before) if snapshots_before else 0
            ),
            audit_entries=await uow.audit.purge(before=audit_before) if audit_before else 0,
        )
        detail: dict[str, Any] = {
            "raw_payloads": report.raw_payloads,
            "snapshots": report.snapshots,
            "audit_entries": report.audit_entries,
            "before": {
                kind: cutoff.isoformat()
                for kind, cutoff in (
                    ("raw_payloads", raw_before),
                    ("snapshots", snapshots_before),
                    ("audit_entries", audit_before),
                )
                if cutoff is not None
            },
        }
        platform, user_id, user_name = RETENTION_ACTOR
        await uow.audit.record(
            at=now,
            platform=platform,
            user_id=user_id,
            user_name=user_name,
            action="retention.purge",
            outcome="ok",
            detail=detail,
        )
    return report
