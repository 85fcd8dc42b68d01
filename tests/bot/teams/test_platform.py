"""TeamsPlatform, the notifier's side of Teams: posts, updates and thread replies through
stored conversation references, against the fake Bot Connector."""

from __future__ import annotations

import json

import pytest

from bot.platforms import DeliveryError, RateLimited
from bot.teams.platform import NoConversationError, TeamsPlatform
from bot.teams.retry import http_status
from skills.contract import Fields, Reply, Text
from skills.markup import literal
from tests.bot.teams.conftest import CHANNEL, TeamsWorld


async def platform(teams: TeamsWorld, *, introduce: bool = True) -> TeamsPlatform:
    running = await teams.start()
    if introduce:
        response = await teams.send(teams.activity("07_conversationUpdate_channel.json"))
        assert response.status_code == 200
    (adapter,) = running.lookout.adapters
    assert isinstance(adapter.platform, TeamsPlatform)
    return adapter.platform


async def test_posting_where_lookout_was_never_introduced_says_what_to_do(
    teams: TeamsWorld,
) -> None:
    teams_platform = await platform(teams, introduce=False)
    with pytest.raises(NoConversationError, match="add the Lookout app"):
        await teams_platform.post(channel=CHANNEL, reply=Reply.text("hello"))
    assert teams.connector.requests == []


@pytest.mark.parametrize("route", [CHANNEL, "General", "#General", "DaveTeams TEST"])
async def test_a_post_starts_a_thread_and_an_update_replaces_it(
    teams: TeamsWorld, route: str
) -> None:
    teams_platform = await platform(teams)
    posted = await teams_platform.post(channel=route, reply=Reply.text("**INC-1** open"))
    (post,) = teams.connector.requests
    assert (post.kind, post.conversation_id) == ("post", CHANNEL)
    assert post.body["from"]["id"] == "28:eac5e5c6-ab14-4f50-80cb-49213fe51b1a"
    assert posted.message_id == posted.thread_id == post.answered_id
    assert posted.channel in (CHANNEL, f"team:{CHANNEL}")

    assert posted.channel is not None
    await teams_platform.update(
        channel=posted.channel, message_id=posted.message_id, reply=Reply.text("**INC-1** ack")
    )
    update = teams.connector.requests[-1]
    assert (update.method, update.conversation_id, update.activity_id) == (
        "PUT",
        CHANNEL,
        posted.message_id,
    )
    assert update.body["id"] == posted.message_id and "**INC-1** ack" in update.texts


async def test_a_thread_reply_goes_to_the_posts_reply_chain(teams: TeamsWorld) -> None:
    teams_platform = await platform(teams)
    posted = await teams_platform.post(channel=CHANNEL, reply=Reply.text("root"))
    await teams_platform.post_in_thread(
        channel=CHANNEL, thread_id=posted.thread_id, reply=Reply.text("in the thread")
    )
    reply = teams.connector.requests[-1]
    assert (reply.kind, reply.conversation_id) == (
        "post",
        f"{CHANNEL};messageid={posted.thread_id}",
    )


async def test_a_personal_chat_has_no_threads(teams: TeamsWorld) -> None:
    teams_platform = await platform(teams, introduce=False)
    chat = teams.activity("08_personal_message.json", text="help")
    assert (await teams.send(chat)).status_code == 200
    conversation_id = chat["conversation"]["id"]
    await teams_platform.post_in_thread(
        channel=conversation_id, thread_id="1571691217375", reply=Reply.text("hi")
    )
    assert teams.connector.requests[-1].conversation_id == conversation_id


async def test_server_errors_are_retried_for_answers_and_raised_to_the_notifier(
    teams: TeamsWorld,
) -> None:
    teams_platform = await platform(teams)
    teams.connector.fail_next(4, status=503)
    with pytest.raises(Exception) as raised:
        await teams_platform.post(channel=CHANNEL, reply=Reply.text("lost?"), wait=True)
    assert http_status(raised.value) == 503
    assert [r.status for r in teams.connector.requests] == [503] * 4
    # the notifier's own call is tried once: its backoff is the notifier's, per message
    teams.connector.fail_next(1, status=502)
    with pytest.raises(Exception) as once:
        await teams_platform.post(channel=CHANNEL, reply=Reply.text("later"))
    assert http_status(once.value) == 502 and len(teams.connector.requests) == 5
    await teams_platform.post(channel=CHANNEL, reply=Reply.text("not lost"))
    assert teams.connector.delivered("post")[0].texts == ["not lost"]


async def test_a_429_blocks_that_conversation_for_its_retry_after_without_sleeping(
    teams: TeamsWorld,
) -> None:
    teams_platform = await platform(teams)
    teams.connector.fail_next(1, status=429, retry_after="120")
    with pytest.raises(RateLimited) as raised:
        await teams_platform.post(channel=CHANNEL, reply=Reply.text("later"))
    assert raised.value.retry_after == 120
    # not hammered, not slept on for two minutes: the next try does not reach Teams
    with pytest.raises(RateLimited):
        await teams_platform.post(channel=CHANNEL, reply=Reply.text("still later"))
    assert len(teams.connector.requests) == 1


async def test_a_huge_alert_makes_a_card_teams_takes_with_its_text_as_data(
    teams: TeamsWorld,
) -> None:
    """A 127,000-character annotation made a 264 KiB card (Teams refuses ~28 KB); markup
    characters in label values rendered as formatting."""
    teams_platform = await platform(teams)
    reply = Reply(
        blocks=[
            Text("🔴 **INC-1 · " + literal("Disk_*usage*_`high`") + "**"),
            Text(literal("z" * 127_000)),
            Fields(tuple((f"label {n}", literal("v*" * 2000)) for n in range(30))),
        ],
        more="`show INC-1` for everything",
    )
    await teams_platform.post(channel=CHANNEL, reply=reply)
    (post,) = teams.connector.delivered("post")
    card = post.body["attachments"][0]["content"]
    assert len(json.dumps(post.body)) < 28_000
    dumped = json.dumps(card, ensure_ascii=False)
    assert "truncated — `show INC-1` for everything" in dumped
    runs = [
        item["text"]
        for item in _walk(card)
        if isinstance(item, dict) and item.get("type") == "TextRun"
    ]
    assert "INC-1 · Disk_*usage*_`high`" in runs  # a TextRun is never read as markdown


async def test_a_413_from_teams_is_a_refusal_of_the_message_not_a_retry(
    teams: TeamsWorld,
) -> None:
    teams_platform = await platform(teams)
    teams.connector.fail_next(1, status=413)
    with pytest.raises(DeliveryError) as raised:
        await teams_platform.post(channel=CHANNEL, reply=Reply.text("too big"))
    assert raised.value.refused_content and raised.value.permanent
    assert len(teams.connector.requests) == 1
    teams.connector.fail_next(1, status=403)
    with pytest.raises(DeliveryError) as gone:
        await teams_platform.post(channel=CHANNEL, reply=Reply.text("removed"))
    assert gone.value.permanent and not gone.value.refused_content


def _walk(node: object) -> list[object]:
    found: list[object] = [node]
    if isinstance(node, dict):
        for value in node.values():
            found += _walk(value)
    elif isinstance(node, list):
        for value in node:
            found += _walk(value)
    return found


async def test_a_direct_message_opens_a_personal_chat_with_the_person(teams: TeamsWorld) -> None:
    teams_platform = await platform(teams)
    teams.connector.members["29:1dana"] = {"id": "29:1dana", "name": "Dana", "aadObjectId": "aad-d"}
    posted = await teams_platform.direct_message(
        user="29:1dana", reply=Reply.text("**INC-1** needs you")
    )
    (parameters,) = teams.connector.created
    assert parameters["isGroup"] is False
    assert [member["id"] for member in parameters["members"]] == ["29:1dana"]
    assert parameters["bot"]["id"] == "28:eac5e5c6-ab14-4f50-80cb-49213fe51b1a"
    (post,) = teams.connector.delivered("post")
    assert post.conversation_id == posted.channel and posted.channel.startswith("a:")
    assert post.body["conversation"]["conversationType"] == "personal"
    assert "**INC-1** needs you" in post.texts


async def test_a_direct_message_to_someone_teams_refuses_raises_for_the_next_level(
    teams: TeamsWorld,
) -> None:
    teams_platform = await platform(teams)
    with pytest.raises(DeliveryError, match=r"refused the direct message \(403"):
        await teams_platform.direct_message(user="29:nobody", reply=Reply.text("page"))
    assert teams.connector.delivered("post") == []


async def test_a_direct_message_before_lookout_knows_any_team_says_what_to_do(
    teams: TeamsWorld,
) -> None:
    teams_platform = await platform(teams, introduce=False)
    with pytest.raises(NoConversationError, match="add the Lookout app"):
        await teams_platform.direct_message(user="29:1dana", reply=Reply.text("page"))


async def test_a_mention_in_a_thread_carries_a_mention_entity(teams: TeamsWorld) -> None:
    teams_platform = await platform(teams)
    root = await teams_platform.post(channel=CHANNEL, reply=Reply.text("**INC-1** open"))
    await teams_platform.mention(
        channel=CHANNEL,
        thread_id=root.thread_id,
        user="29:1dana",
        name="Dana <Ops>",
        reply=Reply.text("paging you for **INC-1**"),
    )
    mention = teams.connector.requests[-1]
    assert mention.conversation_id == f"{CHANNEL};messageid={root.thread_id}"
    assert mention.body["text"].startswith("<at>Dana &lt;Ops&gt;</at>")
    (entity,) = mention.body["entities"]
    assert entity["type"] == "mention"
    assert entity["mentioned"] == {"id": "29:1dana", "name": "Dana <Ops>"}
    assert entity["text"] == "<at>Dana &lt;Ops&gt;</at>"
