"""Users: a platform identity and the role Lookout gives it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.delivery import insert_once
from storage.models import UserRow


class UserRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, *, platform: str, platform_user_id: str) -> UserRow | None:
        query = select(UserRow).where(
            UserRow.platform == platform, UserRow.platform_user_id == platform_user_id
        )
        return (await self._session.scalars(query)).one_or_none()

    async def ensure(
        self,
        *,
        platform: str,
        platform_user_id: str,
        display_name: str,
        default_role: str,
        now: datetime,
    ) -> UserRow:
        """The stored user, created with `default_role` the first time we see them.

        Two first commands of one person at once (or on two replicas) create one row: the
        loser's insert is rolled back to its savepoint and it reads the winner's."""
        row = await self.get(platform=platform, platform_user_id=platform_user_id)
        if row is None:
            created = UserRow(
                platform=platform,
                platform_user_id=platform_user_id,
                display_name=(display_name or platform_user_id)[:255],
                role=default_role,
                created_at=now,
            )
            if await insert_once(self._session, created):
                return created
            row = await self.get(platform=platform, platform_user_id=platform_user_id)
            if row is None:  # pragma: no cover - the unique key said it exists
                raise LookupError(f"user {platform_user_id} on {platform} vanished")
        if display_name not in ("", platform_user_id) and row.display_name != display_name:
            # An id stands in for a name the platform could not give; it never replaces one.
            row.display_name = display_name[:255]
        return row

    async def set_role(self, *, platform: str, platform_user_id: str, role: str) -> None:
        row = await self.get(platform=platform, platform_user_id=platform_user_id)
        if row is None:
            raise LookupError(f"no user {platform_user_id} on {platform}")
        row.role = role

    async def named(self, *, platform: str, name: str) -> UserRow | None:
        """The user of `platform` whose id is `name`, else the one so named (any case);
        None when there is none, or when the name is ambiguous."""
        query = select(UserRow).where(
            UserRow.platform == platform,
            or_(
                UserRow.platform_user_id == name,
                func.lower(UserRow.display_name) == name.lower(),
            ),
        )
        rows = list((await self._session.scalars(query)).all())
        exact = [row for row in rows if row.platform_user_id == name]
        if exact:
            return exact[0]
        return rows[0] if len(rows) == 1 else None

    async def names(self, *, platform: str) -> list[tuple[str, str]]:
        """(id, name) of every user of `platform` Lookout has seen, by id."""
        query = (
            select(UserRow.platform_user_id, UserRow.display_name)
            .where(UserRow.platform == platform)
            .order_by(UserRow.platform_user_id)
        )
        return [(user_id, name) for user_id, name in (await self._session.execute(query)).all()]
