"""Who is asking, on Teams: the person's name, tenant and role, from the activity and the roster.

The activity names its sender (`from.name`, `from.aadObjectId`); the conversation's roster
(TeamsInfo.get_member: GET /v3/conversations/{id}/members/{member}) adds the member's
`tenantId` and `userRole` (`user`, `guest`, `anonymous`). A member of another tenant (a
shared channel across organisations) or a guest is `external`: the dispatcher keeps them to
viewing unless the config trusts their tenant. Roster answers are kept for an hour.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from botbuilder.core import TurnContext
from botbuilder.core.teams import TeamsInfo
from botbuilder.schema import Activity

from bot.teams.activities import actor as activity_actor
from bot.teams.groups import AadGroups
from skills.contract import Actor

log = logging.getLogger(__name__)

MEMBER_TTL = 3600.0
MEMBER_FAILURE_TTL = 300.0
MAX_MEMBERS = 10_000
OUTSIDE_ROLES = frozenset({"guest", "anonymous"})


@dataclass(frozen=True)
class Member:
    """What the roster says of a member."""

    name: str | None
    tenant: str | None
    role: str | None


def is_bot_sender(activity: Activity) -> bool:
    """A bot's message (Bot Framework bot ids start `28:`), not a person's."""
    sender = activity.from_property
    if sender is None:
        return False
    return getattr(sender, "role", None) == "bot" or str(sender.id or "").startswith("28:")


def home_tenant(activity: Activity, configured: str | None) -> str | None:
    """The tenant Lookout serves: TEAMS_TENANT_ID, else the conversation's own tenant."""
    if configured:
        return configured
    data = activity.channel_data if isinstance(activity.channel_data, dict) else {}
    tenant = (data.get("tenant") or {}).get("id")
    conversation = activity.conversation
    return tenant or (getattr(conversation, "tenant_id", None) if conversation else None)


class TeamsPeople:
    """Who a Teams activity comes from; with `groups`, also the Azure AD groups projects
    give roles to (bot.teams.groups)."""

    def __init__(
        self,
        *,
        tenant_id: str | None,
        clock: Callable[[], float] = time.monotonic,
        groups: AadGroups | None = None,
    ) -> None:
        self._tenant_id = tenant_id
        self._clock = clock
        self._groups = groups
        self._members: dict[str, tuple[Member | None, float]] = {}

    async def actor(self, turn_context: TurnContext) -> Actor:
        """The sender as an actor: known by their AAD object id (stable across chats,
        teams and renames), named by the activity or the roster, never by an id when a
        name is known."""
        activity = turn_context.activity
        known = activity_actor(activity)
        member = await self._member(turn_context, str(activity.from_property.id or ""))
        name = known.display_name
        if name == known.user_id and member is not None and member.name:
            name = member.name
        home = home_tenant(activity, self._tenant_id)
        tenant = member.tenant if member else None
        role = (member.role or "").lower() if member else ""
        other_tenant = bool(tenant and home and tenant != home)
        external = other_tenant or role in OUTSIDE_ROLES
        groups = await self._groups.of(known.user_id) if self._groups is not None else ()
        return replace(
            known,
            display_name=name,
            team=tenant if other_tenant else (None if external else tenant or home),
            external=external,
            groups=groups,
        )

    async def _member(self, turn_context: TurnContext, member_id: str) -> Member | None:
        if not member_id:
            return None
        now = self._clock()
        cached = self._members.get(member_id)
        if cached is not None and cached[1] > now:
            return cached[0]
        found: Member | None = None
        try:
            account: Any = await TeamsInfo.get_member(turn_context, member_id)
            extra = getattr(account, "additional_properties", None) or {}
            found = Member(
                name=account.name or None,
                tenant=account.tenant_id or extra.get("tenantId") or None,
                role=account.user_role or extra.get("userRole") or None,
            )
        except Exception as error:
            log.warning(
                "could not read a Teams member from the roster",
                extra={"member": member_id, "error": repr(error)},
            )
        if len(self._members) > MAX_MEMBERS:
            self._members.clear()
        self._members[member_id] = (found, now + (MEMBER_TTL if found else MEMBER_FAILURE_TTL))
        return found
