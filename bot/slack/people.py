"""Who is asking, on Slack: a person's name and workspace, a bot's identity.

Names come from users.info (display name → real name → name, kept for an hour by the
platform), never from the id: a payload's legacy `user_name` is only used when Slack cannot
say, and the id only when nothing else is known (the dispatcher then keeps a stored name).

A person belongs to another organisation (`Actor.external`) when any team the request names
for them — an event's `user_team` / `source_team` / `user_profile.team`, an interaction's
`user.team_id`, users.info's `team_id` — is not the workspace Lookout is installed in, unless
users.info puts them in the same Enterprise Grid org.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from bot.slack.platform import SlackPlatform
from bot.slack.text import mentioned_users
from skills.contract import Actor

PLATFORM = "slack"


@dataclass(frozen=True)
class Home:
    """The workspace (and Grid org) Lookout is installed in, as auth.test reports it."""

    team: str | None
    enterprise: str | None

    @classmethod
    def of(cls, context: Any) -> Home:
        result = getattr(context, "authorize_result", None)
        team = getattr(result, "team_id", None) or getattr(context, "team_id", None)
        enterprise = getattr(result, "enterprise_id", None) or getattr(
            context, "enterprise_id", None
        )
        return cls(team=team or None, enterprise=enterprise or None)


def bot_identity(event: dict[str, Any]) -> tuple[str, str] | None:
    """(bot id, name) when a bot or a workflow wrote this message; None for a person."""
    bot_id = event.get("bot_id")
    if not bot_id and event.get("subtype") != "bot_message" and event.get("user"):
        return None
    profile = event.get("bot_profile") or {}
    bot = str(bot_id or profile.get("id") or "")
    name = str(profile.get("name") or event.get("username") or bot)
    return bot, name


class SlackPeople:
    """Who a Slack request comes from. `with_groups()` says whether to ask which user groups
    people are in (only when some project gives roles by group)."""

    def __init__(
        self, platform: SlackPlatform, with_groups: Callable[[], bool] = lambda: False
    ) -> None:
        self._platform = platform
        self._with_groups = with_groups

    async def person(
        self,
        user_id: str,
        *,
        home: Home,
        named: str | None = None,
        teams: Iterable[str | None] = (),
    ) -> Actor:
        """The actor for `user_id`: their name, and their team when it is not `home`."""
        user = await self._platform.user(user_id) if user_id else None
        name = (user.name if user else None) or named or user_id
        hints = [team for team in (*teams, user.team if user else None) if team]
        same_org = bool(user and user.enterprise and user.enterprise == home.enterprise)
        outside = [team for team in hints if team != home.team]
        external = bool(outside) and not same_org and home.team is not None
        groups = await self._platform.user_groups(user_id) if self._with_groups() else ()
        return Actor(
            PLATFORM,
            user_id,
            name,
            team=outside[0] if external else (hints[0] if hints else home.team),
            external=external,
            groups=groups,
        )

    def missing(self, *user_ids: str) -> str | None:
        """One sentence when Slack could not say who one of `user_ids` is, else None."""
        for user_id in user_ids:
            if (reason := self._platform.lookup_failure(user_id)) is not None:
                return (
                    f"{reason}, so names and workspaces are missing from this answer "
                    "(people are named as Slack sent them)."
                )
        return None

    async def names(self, text: str, *, skip: str | None = None) -> dict[str, str]:
        """Names of the people mentioned in `text` (those Slack can name), but `skip`."""
        found: dict[str, str] = {}
        for user_id in mentioned_users(text):
            if user_id == skip:
                continue
            user = await self._platform.user(user_id)
            if user is not None and user.name:
                found[user_id] = user.name
        return found
