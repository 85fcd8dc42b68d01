"""Roles given in chat, per person per project (`role <user> <role>`)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.delivery import insert_once
from storage.models import ProjectRoleRow


class ProjectRoleRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def of_user(self, *, platform: str, platform_user_id: str) -> dict[str, str]:
        """project → role given in chat to this person (roles from config are not here)."""
        query = select(ProjectRoleRow.project, ProjectRoleRow.role).where(
            ProjectRoleRow.platform == platform,
            ProjectRoleRow.platform_user_id == platform_user_id,
        )
        return {project: role for project, role in (await self._session.execute(query)).all()}

    async def grant(
        self,
        *,
        platform: str,
        platform_user_id: str,
        project: str,
        role: str,
        granted_by: str,
        now: datetime,
    ) -> str | None:
        """Give `role` in `project`, replacing a role given before; returns that one."""
        query = select(ProjectRoleRow).where(
            ProjectRoleRow.platform == platform,
            ProjectRoleRow.platform_user_id == platform_user_id,
            ProjectRoleRow.project == project,
        )
        row = (await self._session.scalars(query.with_for_update())).one_or_none()
        if row is None:
            row = ProjectRoleRow(
                platform=platform,
                platform_user_id=platform_user_id,
                project=project,
                role=role,
                granted_by=granted_by[:255],
                granted_at=now,
            )
            if await insert_once(self._session, row):
                return None
            row = (await self._session.scalars(query.with_for_update())).one()
        before = row.role
        row.role, row.granted_by, row.granted_at = role, granted_by[:255], now
        return before

    async def members(self, *, project: str) -> list[ProjectRoleRow]:
        query = select(ProjectRoleRow).where(ProjectRoleRow.project == project)
        return list((await self._session.scalars(query.order_by(ProjectRoleRow.id))).all())
