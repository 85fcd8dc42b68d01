"""Runbook runs: requests, approvals, progress and outcomes (the audit trail of every fix)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, String, cast, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.projects import DEFAULT_PROJECT
from storage.models import ChatMessageRow, RunbookRunRow, RunStepOutputRow

ACTIVE = ("pending_approval", "approved", "running")
RUN_MESSAGE = "run"


class RunRepository:
    """Runbook runs. A repository `scoped` to some projects reads only their runs: `get`
    of another project's is None, lists and counts leave them out."""

    def __init__(self, session: AsyncSession, *, projects: frozenset[str] | None = None) -> None:
        self._session = session
        self._projects = projects

    def scoped(self, projects: frozenset[str] | None) -> RunRepository:
        """The same unit of work's runs, seen from `projects` (None: all of them)."""
        return RunRepository(self._session, projects=projects)

    def _visible(self, query: Select[Any]) -> Select[Any]:
        if self._projects is None:
            return query
        return query.where(RunbookRunRow.project.in_(self._projects))

    async def create(
        self,
        *,
        runbook: str,
        version: str,
        title: str,
        risk: str,
        arguments: dict[str, str],
        incident_id: int | None,
        requested_by: str,
        requested_by_name: str,
        platform: str,
        channel: str,
        thread: str | None,
        status: str,
        approvals_needed: int,
        dry_run: bool,
        plan: list[str],
        now: datetime,
        project: str = DEFAULT_PROJECT,
    ) -> RunbookRunRow:
        """A new run of `runbook` in `project`, flushed (its id is known)."""
        row = RunbookRunRow(
            project=project,
            runbook=runbook,
            version=version,
            title=title,
            risk=risk,
            arguments=arguments,
            incident_id=incident_id,
            requested_by=requested_by,
            requested_by_name=requested_by_name,
            platform=platform,
            channel=channel,
            thread=thread,
            requested_at=now,
            status=status,
            approvals_needed=approvals_needed,
            approvals={"by": []},
            dry_run=dry_run,
            plan={"steps": plan},
            steps={"steps": []},
            cancel_requested=False,
            confirmed_step=0,
            revision=1,
        )
        self._session.add(row)
        await self._session.flush()
        return row

    async def get(self, *, run_id: int, for_update: bool = False) -> RunbookRunRow | None:
        query = self._visible(select(RunbookRunRow).where(RunbookRunRow.id == run_id))
        if for_update:
            query = query.with_for_update()
        return (await self._session.scalars(query)).one_or_none()

    async def starts_since(self, *, runbook: str, since: datetime) -> list[datetime]:
        """When runs of `runbook` started since `since` (for the hourly limit): a request
        still waiting for approval, or one rejected or cancelled before it started, is not
        a run."""
        query = select(RunbookRunRow.started_at).where(
            RunbookRunRow.runbook == runbook,
            RunbookRunRow.started_at.is_not(None),
            RunbookRunRow.started_at >= since,
            RunbookRunRow.dry_run.is_(False),
        )
        return [moment for moment in (await self._session.scalars(query)).all() if moment]

    async def save_output(
        self,
        *,
        run_id: int,
        phase: str,
        number: int,
        name: str,
        status: str,
        output: str,
        now: datetime,
    ) -> RunStepOutputRow:
        """Keep a step's whole output (already redacted); a second save of the same step
        replaces the first."""
        row = await self.output(run_id=run_id, phase=phase, number=number)
        if row is None:
            row = RunStepOutputRow(run_id=run_id, phase=phase, number=number, created_at=now)
            self._session.add(row)
        row.name = name[:255]
        row.status = status
        row.output = output
        row.lines = len(output.splitlines())
        await self._session.flush()
        return row

    async def output(self, *, run_id: int, phase: str, number: int) -> RunStepOutputRow | None:
        """One step's kept output (`phase` is "steps" or "rollback"), or None."""
        query = select(RunStepOutputRow).where(
            RunStepOutputRow.run_id == run_id,
            RunStepOutputRow.phase == phase,
            RunStepOutputRow.number == number,
        )
        return (await self._session.scalars(query)).one_or_none()

    async def purge_outputs(self, *, before: datetime) -> int:
        """Retention: delete the whole step outputs kept before `before` (the runs and their
        step summaries stay); how many went."""
        result = await self._session.execute(
            delete(RunStepOutputRow)
            .where(RunStepOutputRow.created_at < before)
            .execution_options(synchronize_session=False)
        )
        return int(getattr(result, "rowcount", 0) or 0)

    async def outputs(self, *, run_id: int) -> list[RunStepOutputRow]:
        """Every kept output of the run: its steps in order, then its rollback steps."""
        query = select(RunStepOutputRow).where(RunStepOutputRow.run_id == run_id)
        rows = list((await self._session.scalars(query)).all())
        return sorted(rows, key=lambda row: (row.phase != "steps", row.number))

    async def beat(self, *, run_id: int, now: datetime) -> None:
        """The executing process is alive (its heartbeat; not a change anyone is shown)."""
        await self._session.execute(
            update(RunbookRunRow).where(RunbookRunRow.id == run_id).values(heartbeat_at=now)
        )

    async def with_status(self, *, statuses: Sequence[str]) -> list[RunbookRunRow]:
        query = select(RunbookRunRow).where(RunbookRunRow.status.in_(list(statuses)))
        return list((await self._session.scalars(query.order_by(RunbookRunRow.id))).all())

    async def recent(
        self, *, limit: int = 20, incident_id: int | None = None
    ) -> list[RunbookRunRow]:
        query = self._visible(select(RunbookRunRow))
        if incident_id is not None:
            query = query.where(RunbookRunRow.incident_id == incident_id)
        query = query.order_by(RunbookRunRow.id.desc()).limit(limit)
        return list((await self._session.scalars(query)).all())

    async def outcomes(self) -> dict[str, tuple[int, int]]:
        """Per runbook: (succeeded, finished) over real (not dry) runs that started — its
        success rate. A run refused before its first step (a changed runbook, the hourly
        limit) says nothing about whether the runbook works."""
        query = (
            select(RunbookRunRow.runbook, RunbookRunRow.status, func.count())
            .where(
                RunbookRunRow.dry_run.is_(False),
                RunbookRunRow.started_at.is_not(None),
                RunbookRunRow.status.in_(("succeeded", "failed", "rolled_back")),
            )
            .group_by(RunbookRunRow.runbook, RunbookRunRow.status)
        )
        if self._projects is not None:
            query = query.where(RunbookRunRow.project.in_(self._projects))
        totals: dict[str, tuple[int, int]] = {}
        for name, status, count in (await self._session.execute(query)).all():
            good, done = totals.get(name, (0, 0))
            totals[name] = (good + (count if status == "succeeded" else 0), done + count)
        return totals

    async def behind(self, *, platform: str, limit: int = 50) -> list[RunbookRunRow]:
        """Runs asked on `platform` whose progress message is missing or out of date."""
        query = (
            select(RunbookRunRow)
            .outerjoin(
                ChatMessageRow,
                (ChatMessageRow.kind == RUN_MESSAGE)
                & (ChatMessageRow.key == cast(RunbookRunRow.id, String))
                & (ChatMessageRow.platform == platform),
            )
            .where(
                RunbookRunRow.platform == platform,
                RunbookRunRow.dry_run.is_(False),
                (ChatMessageRow.id.is_(None))
                | (ChatMessageRow.rendered_revision < RunbookRunRow.revision),
            )
            .order_by(RunbookRunRow.id)
            .limit(limit)
        )
        return list((await self._session.scalars(query)).all())


def touch(run: RunbookRunRow, **changes: Any) -> None:
    """Apply changes and mark the run's progress message stale."""
    for name, value in changes.items():
        setattr(run, name, value)
    run.revision += 1
