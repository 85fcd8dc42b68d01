"""Whom a command names: `me`, a platform's mention, or a person Lookout knows by id or name."""

from __future__ import annotations

import difflib
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


async def find_person(ctx: SkillContext, text: str, *, unseen_ok: bool = False) -> Person:
    """The person `text` names, for the one asking in `ctx`.

    Accepted: `me`; Slack's `<@U123>` / `<@U123|name>`; a person the command mentions (the
    platform's mention, shown as `@Name` in Slack or `Name` in Teams); a user Lookout knows
    on the asker's platform, by id or name; on the console, a user Lookout has seen there, a
    person of an on-call schedule or a project's member — or, with `unseen_ok` (an admin
    granting a role before the person first uses Lookout), any well-formed console name.
    Raises UsageError for nothing, NotFoundError (with the closest known name) for a name
    nobody answers to."""
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
    known_names = await _known_names(ctx)
    if actor.platform == "console" and _CONSOLE_NAME.match(bare):
        same = [name for name in known_names if name.lower() == bare.lower()]
        if same:
            chosen = bare if bare in same else same[0]
            return Person("console", chosen, chosen)
        if unseen_ok:
            return Person("console", bare, bare)
    close = difflib.get_close_matches(bare.lower(), [n.lower() for n in known_names], n=1)
    spelled = {name.lower(): name for name in known_names}
    hint = f" Did you mean `{spelled[close[0]]}`?" if close else ""
    raise NotFoundError(
        f"Lookout does not know who `{bare}` is here; mention them (`@name`) or say `me`.{hint}"
    )


async def _known_names(ctx: SkillContext) -> list[str]:
    """Everyone the asker's platform may name: the users Lookout has seen there (ids and
    names), the people of the on-call rotations and overrides, and the projects' members."""
    platform = ctx.actor.platform
    found: list[str] = []
    for user_id, name in await ctx.users.names(platform=platform):
        found.append(user_id if platform == "console" else name)
    if platform == "console":
        oncall = ctx.tools.oncall
        for schedule in oncall.schedules.values() if oncall is not None else ():
            if schedule.rotation is not None:
                found.extend(schedule.rotation.users)
            found.extend(override.user for override in schedule.overrides)
        for project in ctx.tools.projects.projects:
            found.extend(member for member in project.members if member != "*")
    return list(dict.fromkeys(name for name in found if name))
