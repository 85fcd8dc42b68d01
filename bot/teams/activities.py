"""Reading Teams activities: the command typed, who typed it, and where Lookout may speak later.

Pure functions of an `Activity`; the bot and the platform do the I/O.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Any

from botbuilder.core import TurnContext
from botbuilder.schema import Activity, ActivityTypes, ConversationReference

from skills.contract import Actor, Mention

PLATFORM = "teams"
GENERAL_CHANNEL = "General"
THREAD_MARK = ";messageid="

_AT_TAG = re.compile(r"<at>(.*?)</at>", re.IGNORECASE | re.DOTALL)


def command_text(activity: Activity) -> str:
    """The typed text without the bot's @mention: `<at>Lookout</at> ack 3` → `ack 3`.

    The bot's mention entities say exactly which `<at>…</at>` names the bot, so only those are
    removed; another person's mention keeps its name, as an argument (`assign <at>Ana</at>`).
    """
    text = activity.text or ""
    bot_id = activity.recipient.id if activity.recipient else None
    bot_names = (
        {activity.recipient.name} if activity.recipient and activity.recipient.name else set()
    )
    for mention in TurnContext.get_mentions(activity):
        properties = mention.additional_properties or {}
        mentioned = properties.get("mentioned") or {}
        if bot_id is None or mentioned.get("id") != bot_id:
            continue
        if mentioned.get("name"):
            bot_names.add(mentioned["name"])
        tag = properties.get("text")
        if tag:
            text = text.replace(tag, " ", 1)

    def other_mention(match: re.Match[str]) -> str:
        name = match.group(1)
        return " " if name in bot_names else name

    text = _AT_TAG.sub(other_mention, text)
    return " ".join(html.unescape(text).split())


def mentions(activity: Activity) -> tuple[Mention, ...]:
    """The people the message mentions but the bot, from its mention entities: each one's
    id (`mentioned.aadObjectId` when given, else `mentioned.id`) and the name its `<at>` tag
    shows, which `command_text` leaves in the command."""
    bot_id = activity.recipient.id if activity.recipient else None
    found: list[Mention] = []
    for mention in TurnContext.get_mentions(activity):
        properties = mention.additional_properties or {}
        mentioned = properties.get("mentioned") or {}
        user_id = str(mentioned.get("aadObjectId") or mentioned.get("id") or "")
        if not user_id or mentioned.get("id") == bot_id:
            continue
        tag = _AT_TAG.search(str(properties.get("text") or ""))
        name = html.unescape(tag.group(1) if tag else str(mentioned.get("name") or user_id))
        name = " ".join(name.split())
        if name and all(known.user_id != user_id for known in found):
            found.append(Mention(user_id, name))
    return tuple(found)


def shape_problem(activity: Activity) -> str | None:
    """Why an activity cannot be handled (answered with a 400), or None. Every activity
    the Bot Framework sends names its sender and conversation (`from.id`, `conversation.id`);
    the readers here rely on that, and on `text` being text."""
    sender = activity.from_property
    if sender is None or not isinstance(sender.id, str) or not sender.id:
        return "`from.id` is required"
    conversation = activity.conversation
    if conversation is None or not isinstance(conversation.id, str) or not conversation.id:
        return "`conversation.id` is required"
    if activity.text is not None and not isinstance(activity.text, str):
        return "`text` must be text"
    for entity in activity.entities or []:
        if not isinstance(getattr(entity, "type", None), str):
            return "every entity needs a `type`"
    return None


def actor(activity: Activity) -> Actor:
    """Teams users are known by their AAD object id: stable across chats, teams and renames."""
    sender = activity.from_property
    user_id = getattr(sender, "aad_object_id", None) or sender.id
    return Actor(platform=PLATFORM, user_id=user_id, display_name=sender.name or user_id)


def _channel_data(activity: Activity) -> dict[str, Any]:
    data = activity.channel_data
    return data if isinstance(data, dict) else {}


def is_channel(activity: Activity) -> bool:
    conversation = activity.conversation
    return bool(conversation and conversation.conversation_type == "channel")


def conversation_key(activity: Activity) -> str:
    """A channel's id without the `;messageid=` of the thread it arrived in; a 1:1 or group
    chat's conversation id."""
    channel = _channel_data(activity).get("channel") or {}
    if is_channel(activity) and channel.get("id"):
        return str(channel["id"])
    return str(activity.conversation.id).split(THREAD_MARK, 1)[0]


def thread_root(activity: Activity) -> str | None:
    """The id of the post whose reply chain this activity arrived in, if any."""
    conversation_id = str(activity.conversation.id)
    if THREAD_MARK in conversation_id:
        return conversation_id.split(THREAD_MARK, 1)[1]
    return None


@dataclass(frozen=True)
class CapturedReference:
    key: str
    name: str | None
    reference: dict[str, Any]

    def __post_init__(self) -> None:
        if self.name is not None:  # the column holds 255; Teams allows longer team names
            object.__setattr__(self, "name", self.name[:255])


def _reference(activity: Activity, conversation_id: str) -> dict[str, Any]:
    reference: ConversationReference = TurnContext.get_conversation_reference(activity)
    # Stored to start new posts: no activity id (that would make them replies) and no thread.
    reference.activity_id = None
    reference.conversation.id = conversation_id
    serialized: dict[str, Any] = reference.serialize()
    return serialized


def captured_references(activity: Activity) -> list[CapturedReference]:
    """Where this activity lets Lookout post later: its channel (by id, named by its display
    name; the General channel shares the team's id and often comes without a name) and its team
    (`team:<id>`, named by the team's name, posting to General); or the 1:1/group chat."""
    if not activity.conversation or not activity.conversation.id or not activity.service_url:
        return []
    if activity.type not in (
        ActivityTypes.message,
        ActivityTypes.invoke,
        ActivityTypes.conversation_update,
        ActivityTypes.installation_update,
    ):
        return []
    key = conversation_key(activity)
    if not is_channel(activity):
        name = activity.conversation.name or None
        return [CapturedReference(key, name, _reference(activity, key))]
    data = _channel_data(activity)
    team = data.get("team") or {}
    channel = data.get("channel") or {}
    name = channel.get("name") or (GENERAL_CHANNEL if key == team.get("id") else None)
    captured = [CapturedReference(key, name, _reference(activity, key))]
    if team.get("id"):
        team_id = str(team["id"])
        captured.append(
            CapturedReference(f"team:{team_id}", team.get("name"), _reference(activity, team_id))
        )
    return captured


def request_id(activity: Activity) -> str | None:
    """What makes a delivery unique: the activity id within its conversation."""
    if not activity.id:
        return None
    return f"{activity.id}@{activity.conversation.id}"[:255]


# conversationUpdate events that take a conversation away from Lookout, and back.
REMOVING_EVENTS = frozenset({"channelDeleted", "teamDeleted", "teamArchived"})
RESTORING_EVENTS = frozenset({"channelRestored", "teamRestored", "teamUnarchived"})


def _bot_among(activity: Activity, members: Any) -> bool:
    bot_id = activity.recipient.id if activity.recipient else None
    return bool(bot_id) and any(getattr(m, "id", None) == bot_id for m in members or [])


def removed_keys(activity: Activity) -> list[str]:
    """The conversations this activity says Lookout can no longer speak in: the app removed
    from a team or chat (installationUpdate `remove`, conversationUpdate with Lookout in
    `membersRemoved`), a team deleted or archived (its General channel and the team), a
    channel deleted. Empty for every other activity."""
    data = _channel_data(activity)
    event = data.get("eventType")
    team_id = (data.get("team") or {}).get("id")
    whole = False
    if activity.type == ActivityTypes.installation_update:
        whole = str(activity.action or "").startswith("remove")
    elif activity.type == ActivityTypes.conversation_update:
        if event == "channelDeleted":
            channel = (data.get("channel") or {}).get("id")
            return [str(channel)] if channel else []
        whole = event in REMOVING_EVENTS or _bot_among(activity, activity.members_removed)
    if not whole or not activity.conversation or not activity.conversation.id:
        return []
    keys = [conversation_key(activity)]
    if team_id:
        keys += [str(team_id), f"team:{team_id}"]
    return list(dict.fromkeys(keys))
