"""Who is asking, on Teams: the person's name, tenant and role, from the activity and the roster.

The activity names its sender (`from.name`, `from.aadObjectId`); the conversation's roster
(TeamsInfo.get_member: GET /v3/conversations/{id}/members/{member}) adds the member's
`tenantId` and `userRole` (`user`, `guest`, `anonymous`). A member of another tenant (a
shared channel across organisations) or a guest is `external`: the dispatcher keeps them to
viewing unless the config trusts their tenant. Roster answers are kept for an hour.

When the roster does not answer (a timeout, an error, a member it does not list), its last
answer for that person stands. Without one, the activity's own tenant
(`channelData.tenant.id`, `conversation.tenantId`) is all there is: one that is not the home
tenant makes the sender external. One that is says nothing of the sender (it is the
conversation's tenant, and the adapter only lets the home tenant's activities in), so a
sender nothing else identifies is kept to viewing until the roster answers, and told why.
Bots are not roster members: the config names the bots that may act.
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
# A roster that did not answer is asked again this soon (whoever it would name waits).
MEMBER_FAILURE_TTL = 30.0
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


def activity_tenants(activity: Activity) -> tuple[str, ...]:
    """The tenants the activity names (`channelData.tenant.id`, `conversation.tenantId`)."""
    data = activity.channel_data if isinstance(activity.channel_data, dict) else {}
    conversation = activity.conversation
    named = (
        (data.get("tenant") or {}).get("id"),
        getattr(conversation, "tenant_id", None) if conversation else None,
    )
    return tuple(dict.fromkeys(str(tenant) for tenant in named if tenant))


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
        cap_unknown: bool = True,
    ) -> None:
        """`cap_unknown`: keep a sender nothing identifies to viewing (off only where
        nobody is identified anyway: the insecure Emulator mode, whose activities name no
        tenant and whose roster may not answer)."""
        self._tenant_id = tenant_id
        self._cap_unknown = cap_unknown
        self._clock = clock
        self._groups = groups
        self._members: dict[str, tuple[Member | None, float]] = {}

    async def actor(self, turn_context: TurnContext) -> Actor:
        """The sender as an actor: known by their AAD object id (stable across chats,
        teams and renames), named by the activity or the roster, never by an id when a
        name is known."""
        activity = turn_context.activity
        known = activity_actor(activity)
        bot = is_bot_sender(activity)
        member_id = str(activity.from_property.id or "")
        member = None if bot else await self._member(turn_context, member_id)
        name = known.display_name
        if name == known.user_id and member is not None and member.name:
            name = member.name
        team, external = self._standing(activity, member, bot=bot)
        groups = await self._groups.of(known.user_id) if self._groups is not None else ()
        return replace(known, display_name=name, team=team, external=external, groups=groups)

    def missing(self, activity: Activity) -> str | None:
        """One sentence when the sender is kept to viewing because nothing said who they
        are (the roster did not answer, the activity names no tenant), else None."""
        if is_bot_sender(activity):
            return None
        cached = self._members.get(str(activity.from_property.id or ""))
        if cached is None or cached[0] is not None:
            return None
        if self._standing(activity, None, bot=False) != (None, True):
            return None
        return (
            "Teams did not say who you are (its member list did not answer), so Lookout "
            "lets you look but not act until it does; try again in a minute."
        )

    def _standing(
        self, activity: Activity, member: Member | None, *, bot: bool
    ) -> tuple[str | None, bool]:
        """(tenant, external) of the sender: from the roster's answer when there is one,
        else from a tenant the activity names that is not home; (None, True) when nothing
        says (a bot: the home tenant, as the config decides whether it acts)."""
        home = home_tenant(activity, self._tenant_id)
        if member is not None:
            tenant = member.tenant
            role = (member.role or "").lower()
            other_tenant = bool(tenant and home and tenant != home)
            external = other_tenant or role in OUTSIDE_ROLES
            return (tenant if other_tenant else (None if external else tenant or home)), external
        others = [tenant for tenant in activity_tenants(activity) if home and tenant != home]
        if others:
            return others[0], True
        if bot or not self._cap_unknown:
            return home, False
        return None, True

    async def _member(self, turn_context: TurnContext, member_id: str) -> Member | None:
        if not member_id:
            return None
        now = self._clock()
        cached = self._members.get(member_id)
        if cached is not None and cached[1] > now:
            return cached[0]
        last = cached[0] if cached is not None else None
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
                "could not read a Teams member from the roster; its last answer stands",
                extra={"member": member_id, "error": repr(error), "known": last is not None},
            )
            found = last
            ttl = MEMBER_FAILURE_TTL
        else:
            ttl = MEMBER_TTL
        if len(self._members) > MAX_MEMBERS:
            self._members.clear()
        self._members[member_id] = (found, now + ttl)
        return found
