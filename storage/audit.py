"""The audit log: who did what, where, and how it ended.

Append-only: entries are written and read, never changed. The repository hands out frozen
`AuditEntry` copies, not its rows, and offers no update or delete; the one way rows leave is
`purge` (retention, by age). An audit row changed or deleted through the ORM is refused."""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, event, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import AuditRow


class AuditLogIsAppendOnly(RuntimeError):
    """Something tried to change or delete an audit entry other than by retention."""


@event.listens_for(AuditRow, "before_update")
def _refuse_update(*_: Any) -> None:
    raise AuditLogIsAppendOnly("audit entries are never changed")


@event.listens_for(AuditRow, "before_delete")
def _refuse_delete(*_: Any) -> None:
    raise AuditLogIsAppendOnly("audit entries leave only by retention (AuditRepository.purge)")


@dataclass(frozen=True)
class AuditEntry:
    """One audit entry as read: `at` UTC; `platform` and `user_id`/`user_name` the actor
    (a person, or a sender such as platform `webhook`, user `alertmanager`); `action` what
    was done (a command's verb, `run.step`, `webhook`, `retention.purge`, …); `target` what it
    was done to (`INC-3`, `R-2`, a person); `outcome` `ok`, `denied`, `refused`, `error`, …;
    `project` where (None: no project)."""

    id: int
    at: datetime
    platform: str
    user_id: str
    user_name: str
    action: str
    target: str | None
    detail: dict[str, Any]
    outcome: str
    project: str | None

    @classmethod
    def of(cls, row: AuditRow) -> AuditEntry:
        return cls(
            id=row.id,
            at=row.at,
            platform=row.platform,
            user_id=row.user_id,
            user_name=row.user_name,
            action=row.action,
            target=row.target,
            detail=dict(row.detail or {}),
            outcome=row.outcome,
            project=row.project,
        )

    def record(self) -> dict[str, Any]:
        """The entry as plain JSON-ready values (`at` in ISO 8601)."""
        return {
            "id": self.id,
            "at": self.at.isoformat(),
            "platform": self.platform,
            "user_id": self.user_id,
            "user_name": self.user_name,
            "action": self.action,
            "target": self.target,
            "outcome": self.outcome,
            "project": self.project,
            "detail": self.detail,
        }


class AuditRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def record(
        self,
        *,
        at: datetime,
        platform: str,
        user_id: str,
        user_name: str,
        action: str,
        outcome: str,
        target: str | None = None,
        detail: dict[str, Any] | None = None,
        project: str | None = None,
    ) -> None:
        """Append one entry (committed with the unit of work)."""
        self._session.add(
            AuditRow(
                at=at,
                platform=platform[:32],
                user_id=user_id[:255],
                user_name=user_name[:255],
                action=action[:64],
                target=target[:255] if target else None,
                detail=detail or {},
                outcome=outcome[:32],
                project=project,
            )
        )

    async def recent(self, *, limit: int = 100, action: str | None = None) -> list[AuditEntry]:
        """The newest `limit` entries, newest first (only `action`'s when given)."""
        query = select(AuditRow)
        if action:
            query = query.where(AuditRow.action == action)
        query = query.order_by(AuditRow.id.desc()).limit(limit)
        return [AuditEntry.of(row) for row in (await self._session.scalars(query)).all()]

    async def find(
        self,
        *,
        user: str | None = None,
        target: str | None = None,
        since: datetime | None = None,
        projects: Collection[str] | None = None,
        unscoped: bool = True,
        limit: int = 50,
    ) -> list[AuditEntry]:
        """The newest `limit` entries matching every filter given, newest first. `user`: a
        user id or display name (case-insensitive); `target`: exactly (`INC-3`);
        `projects`: only entries of these projects, and with `unscoped` those of no project
        too (None: every entry)."""
        query = select(AuditRow)
        if user:
            lowered = user.lower()
            query = query.where(
                or_(
                    func.lower(AuditRow.user_id) == lowered,
                    func.lower(AuditRow.user_name) == lowered,
                )
            )
        if target:
            query = query.where(AuditRow.target == target)
        if since is not None:
            query = query.where(AuditRow.at >= since)
        if projects is not None:
            scoped = AuditRow.project.in_(sorted(projects))
            query = query.where(or_(scoped, AuditRow.project.is_(None)) if unscoped else scoped)
        query = query.order_by(AuditRow.id.desc()).limit(limit)
        return [AuditEntry.of(row) for row in (await self._session.scalars(query)).all()]

    async def stream(
        self, *, since: datetime, until: datetime | None = None, batch: int = 500
    ) -> AsyncIterator[AuditEntry]:
        """Every entry at or after `since` (and before `until`), in id order, read `batch`
        rows at a time so an export of years holds one batch in memory."""
        after = 0
        while True:
            query = select(AuditRow).where(AuditRow.id > after, AuditRow.at >= since)
            if until is not None:
                query = query.where(AuditRow.at < until)
            rows = (await self._session.scalars(query.order_by(AuditRow.id).limit(batch))).all()
            for row in rows:
                yield AuditEntry.of(row)
                self._session.expunge(row)
            if len(rows) < batch:
                return
            after = rows[-1].id

    async def purge(self, *, before: datetime) -> int:
        """Retention: delete the entries older than `before`; how many went."""
        result = await self._session.execute(
            delete(AuditRow)
            .where(AuditRow.at < before)
            .execution_options(synchronize_session=False)
        )
        return int(getattr(result, "rowcount", 0) or 0)
