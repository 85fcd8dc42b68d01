"""Whom a command names: `me`, a platform's mention, or a person Lookout knows by id or name."""

from __future__ import annotations

import re
from dataclasses import dataclass

from skills.context import SkillContext
from skills.errors import NotFoundError, UsageError

# Slack's markup for a person, `<@U0BOB>` or `<@U0BOB|bob>` (api.slack.com/reference/surfaces/
# formatting, "Mentioning users"): what a people picker's choice is written as.
_SLACK_MENTION = re.compile(r"^<@([A-Z0-9][A-Z0-9._-]*)(?:\|([^<>]*))?>$", re.IGNORECASE)
_CONSOLE_NAME = re.compile(r"^[\w.@+-]{1,64}$")
SELF = ("me", "myself", "@me")


@dataclass(frozen=True)
class Person:
    """Someone on a platform: their id there and their name."""

    platform: str
    user_id: str
    name: str


async def find_person(ctx: SkillContext, text: str) -> Person:
    """The person `text` names, for the one asking in `ctx`.

    Accepted: `me`; Slack's `<@U123>` / `<@U123|name>`; a person the command mentions (the
    platform's mention, shown as `@Name` in Slack or `Name` in Teams); a user Lookout knows
    on the asker's platform, by id or name; on the console, any console user name. Raises
    UsageError for nothing, NotFoundError for a name nobody answers to."""
    typed = " ".join(text.split())
    if not typed:
        raise UsageError("Whom? Say `me`, or mention them (`@name`).")
    actor = ctx.actor
    if typed.lower() in SELF:
        return Person(actor.platform, actor.user_id, actor.display_name)
    slack = _SLACK_MENTION.match(typed)
    if slack is not None:
        user_id, label = slack[1], (slack[2] or "").strip().lstrip("@")
        named = [m.name for m in ctx.invocation.mentions if m.user_id == user_id]
        if not label and named:
            label = named[0].removeprefix("@")
        if not label:
            known = await ctx.users.get(platform="slack", platform_user_id=user_id)
            label = known.display_name if known is not None else user_id
        return Person("slack", user_id, label)
    bare = typed.removeprefix("@").strip()
    for mention in ctx.invocation.mentions:
        if bare.lower() in (mention.name.lower().removeprefix("@"), mention.user_id.lower()):
            return Person(actor.platform, mention.user_id, mention.name.removeprefix("@"))
    known = await ctx.users.named(platform=actor.platform, name=bare)
    if known is not None:
        return Person(actor.platform, known.platform_user_id, known.display_name)
    if actor.platform == "console" and _CONSOLE_NAME.match(bare):
        return Person("console", bare, bare)
    raise NotFoundError(
        f"Lookout does not know who `{bare}` is here; mention them (`@name`) or say `me`."
    )
