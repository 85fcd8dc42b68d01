"""Retention: the daily purge, through the scheduler's job runner, with an injected clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from bot.background.retention import RETENTION_JOB
from bot.background.scheduled_work import ScheduledWork
from bot.config import RetentionRules
from storage.database import Database

NOW = datetime(2026, 12, 1, 3, 17, tzinfo=UTC)
OLD = NOW - timedelta(days=40)
RECENT = NOW - timedelta(days=2)


async def _unused(*_: Any) -> Any:  # pragma: no cover - a report would call it
    raise AssertionError("the purge runs no command")


def work(database: Database, rules: RetentionRules | None) -> ScheduledWork:
    return ScheduledWork(
        database=database,
        run_command=_unused,
        accept=_unused,
        on_report=lambda: None,
        retention=rules,
        clock=lambda: NOW,
    )


async def seed(database: Database) -> int:
    """An incident with an old and a recent snapshot, a run with an old and a recent step
    output, and an old and a recent audit entry; the incident's id."""
    async with database.unit_of_work() as uow:
        incident = await uow.incidents.create(
            title="checkout: HighErrorRate",
            severity="critical",
            service="checkout",
            first_alert_at=OLD,
            now=OLD,
        )
        for at in (OLD, RECENT):
            await uow.contexts.add(
                incident_id=incident.id, snapshot={"at": at.isoformat()}, requested_by="a", now=at
            )
        await uow.contexts.checked(
            incident_id=incident.id, snapshot={"posted": True}, reasons=["deploy"], now=OLD
        )
        run = await uow.runs.create(
            runbook="restart",
            version="1",
            title="Restart",
            risk="low",
            arguments={},
            incident_id=incident.id,
            requested_by="U1",
            requested_by_name="alice",
            platform="console",
            channel="#incidents",
            thread=None,
            status="succeeded",
            approvals_needed=0,
            dry_run=False,
            plan=["restart"],
            now=OLD,
        )
        for number, at in ((1, OLD), (2, RECENT)):
            await uow.runs.save_output(
                run_id=run.id,
                phase="steps",
                number=number,
                name="restart",
                status="succeeded",
                output="done\n",
                now=at,
            )
        for at in (OLD, RECENT):
            await uow.audit.record(
                at=at,
                platform="console",
                user_id="U1",
                user_name="alice",
                action="ack",
                outcome="ok",
                target=f"INC-{incident.id}",
            )
        return incident.id


async def test_the_daily_purge_deletes_what_is_old_and_keeps_incidents(
    database: Database,
) -> None:
    incident_id = await seed(database)
    rules = RetentionRules(raw_payloads_days=30, snapshots_days=30, audit_days=30)
    runner = work(database, rules)
    assert [spec.job_id for spec in runner.specs()] == [RETENTION_JOB]
    await runner.run(RETENTION_JOB, NOW.replace(minute=17, second=0))
    async with database.unit_of_work() as uow:
        incident = await uow.incidents.get(incident_id=incident_id)
        latest = await uow.contexts.latest(incident_id=incident_id)
        post = await uow.contexts.post(incident_id=incident_id)
        run = await uow.runs.get(run_id=1)
        outputs = await uow.runs.outputs(run_id=1)
        audit = await uow.audit.recent()
        [claimed] = await uow.schedules.runs_of(job=RETENTION_JOB)
    assert incident is not None  # incidents are kept
    assert latest is not None and latest.snapshot == {"at": RECENT.isoformat()}
    assert post is not None and post.context_id is None  # its old snapshot went
    assert run is not None
    assert [row.number for row in outputs] == [2]
    assert [(entry.action, entry.at) for entry in audit] == [
        ("retention.purge", NOW),
        ("ack", RECENT),
    ]
    purge = audit[0]
    assert (purge.platform, purge.user_id, purge.outcome) == (
        "scheduler",
        "lookout-retention",
        "ok",
    )
    assert {k: purge.detail[k] for k in ("raw_payloads", "snapshots", "audit_entries")} == {
        "raw_payloads": 1,
        "snapshots": 2,  # the old one asked for, and the one posted unasked
        "audit_entries": 1,
    }
    assert claimed.outcome == "ok" and claimed.detail == (
        "purged 1 step outputs, 2 context snapshots, 1 audit entries"
    )


async def test_without_a_retention_section_nothing_is_scheduled_or_purged(
    database: Database,
) -> None:
    await seed(database)
    assert work(database, RetentionRules()).specs() == []
    assert work(database, None).specs() == []
    async with database.unit_of_work() as uow:
        assert len(await uow.audit.recent()) == 2
