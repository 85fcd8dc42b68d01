"""What Teams really sends and answers, through the real botbuilder stack with JWT-signed
activities against the fake Bot Connector speaking Microsoft's error bodies: edits, bots,
guests and other tenants, names from the roster, invisible characters, every documented
status code, removal and re-installation, deleted cards."""

from __future__ import annotations

import asyncio
from typing import Any

from bot.teams.activities import PLATFORM
from bot.teams.adapter import TeamsAdapter
from bot.teams.render import COMMAND_KEY
from tests.bot.teams.conftest import CHANNEL, OTHER_CHANNEL, TENANT, TeamsWorld
from tests.bot.teams.fakes import ConnectorRequest
from tests.bot.teams.test_adapter import DAVE, introduce
from tests.bot.test_webhook import storm_payload

SENDER = (
    "29:1CFIxRJBLjT_io3iNsDZxMk_4YPWQmr3DZUM1I6ihf5L2ocCDqg9S1vkHK6kRdGfK1P_2LFE2nQqFIvdu-GBOZA"
)
BOT_ID = "28:eac5e5c6-ab14-4f50-80cb-49213fe51b1a"


def said(text: str) -> str:
    return f"<at>My Combined</at> {text}"


def message(teams: TeamsWorld, text: str, *, id: str, **changes: Any) -> dict[str, Any]:
    """Fixture 01 (an @mention in the General channel's thread) with our text."""
    return teams.activity("01_channel_message_at_mention.json", text=said(text), id=id, **changes)


def member(
    *, name: str = "Dave Taniguchi", tenant: str = TENANT, role: str = "user"
) -> dict[str, Any]:
    """A roster entry as GET /v3/conversations/{id}/members/{member} answers it."""
    return {
        "id": SENDER,
        "name": name,
        "aadObjectId": DAVE,
        "givenName": name.split()[0],
        "surname": name.split()[-1],
        "userPrincipalName": "dave@example.com",
        "tenantId": tenant,
        "userRole": role,
    }


async def alert(teams: TeamsWorld, service: str = "checkout", count: int = 1) -> None:
    await teams.alert(storm_payload(count, service=service))
    await teams.flush()


async def incident_status(teams: TeamsWorld, incident_id: int = 1) -> str:
    assert teams.running is not None
    async with teams.running.lookout.database.unit_of_work() as uow:
        found = await uow.incidents.get(incident_id=incident_id)
    assert found is not None
    return found.status


async def thread_row(teams: TeamsWorld, incident_id: int) -> Any:
    assert teams.running is not None
    async with teams.running.lookout.database.unit_of_work() as uow:
        return await uow.threads.get(incident_id=incident_id, platform=PLATFORM)


async def backdate(teams: TeamsWorld, incident_id: int) -> None:
    assert teams.running is not None
    async with teams.running.lookout.database.unit_of_work() as uow:
        row = await uow.threads.get(incident_id=incident_id, platform=PLATFORM)
        assert row is not None
        row.updated_at = row.updated_at.replace(year=2000)


async def conversation(teams: TeamsWorld, key: str) -> Any:
    assert teams.running is not None
    async with teams.running.lookout.database.unit_of_work() as uow:
        return await uow.conversations.get(platform=PLATFORM, key=key)


async def console_notices(teams: TeamsWorld) -> list[str]:
    assert teams.running is not None
    async with teams.running.client() as client:
        response = await client.get("/console/api/messages", params={"channel": "#incidents"})
    texts = [str(m) for m in response.json()]
    return [text for text in texts if "Lookout cannot post" in text]


def texts(requests: list[ConnectorRequest]) -> list[str]:
    return [text for request in requests for text in request.texts]


# 3. Edits, 4. bots ---------------------------------------------------------------------------


async def test_an_edited_message_runs_nothing(teams: TeamsWorld) -> None:
    await teams.start()
    await introduce(teams)
    await alert(teams)
    before = len(teams.connector.requests)
    edit = message(
        teams,
        "ack INC-1",
        id="1571537152320",
        type="messageUpdate",
        channelData={
            **teams.activity("01_channel_message_at_mention.json")["channelData"],
            "eventType": "editMessage",
        },
    )
    assert (await teams.send(edit)).status_code == 200
    assert len(teams.connector.requests) == before
    assert await incident_status(teams) == "triggered"


async def test_another_bot_does_not_act_unless_configured(teams: TeamsWorld) -> None:
    other_bot = {"id": "28:0b0b0b0b-0000-4000-8000-000000000001", "name": "Deploy bot"}
    teams.extra_config = {"access": {"bots": [other_bot["id"]]}}
    await teams.start()
    await introduce(teams)
    await alert(teams)
    stranger = {
        "id": "28:0b0b0b0b-0000-4000-8000-00000000dead",
        "name": "Chatty bot",
        "role": "bot",
    }
    before = len(teams.connector.requests)
    assert (
        await teams.send(message(teams, "ack INC-1", id="17000001", **{"from": stranger}))
    ).status_code == 200
    assert len(teams.connector.requests) == before  # no action, no answer
    assert await incident_status(teams) == "triggered"
    allowed = message(teams, "ack INC-1", id="17000002", **{"from": {**other_bot, "role": "bot"}})
    assert (await teams.send(allowed)).status_code == 200
    assert await incident_status(teams) == "acknowledged"
    assert any("acknowledged by **Deploy bot**" in t for t in texts(teams.connector.delivered()))


# 5. Guests and other tenants, 6. names ----------------------------------------------------


def typed(teams: TeamsWorld, command: str, sender: dict[str, Any], id: str) -> dict[str, Any]:
    """`@Lookout <command>` in a channel (fixture 01)."""
    return message(teams, command, id=id, **{"from": sender})


def submitted(teams: TeamsWorld, command: str, sender: dict[str, Any], id: str) -> dict[str, Any]:
    """A card's Action.Submit: a message whose value is the button's data (fixture 02)."""
    return teams.activity(
        "02_message_with_value_card_submit.json",
        id=id,
        value={COMMAND_KEY: command},
        **{"from": sender},
    )


def executed(teams: TeamsWorld, command: str, sender: dict[str, Any], id: str) -> dict[str, Any]:
    """A card's Action.Execute: an adaptiveCard/action invoke (fixture 06)."""
    return teams.activity(
        "06_invoke_unnamed_card_action.json",
        id=id,
        name="adaptiveCard/action",
        value={"action": {"type": "Action.Execute", "verb": "run", "data": {COMMAND_KEY: command}}},
        **{"from": sender},
    )


WAYS = {"typed": typed, "Action.Submit": submitted, "adaptiveCard/action": executed}


async def refused(teams: TeamsWorld, activity: dict[str, Any]) -> str:
    """Send `activity`; what Lookout answered (the reply, and an invoke's own answer)."""
    before = len(teams.connector.requests)
    response = await teams.send(activity)
    assert response.status_code == 200, response.text
    answered = texts(teams.connector.requests[before:])
    if activity["type"] == "invoke":
        answered.append(str(response.json().get("value")))
    return "\n".join(answered)


async def test_guests_and_other_tenants_can_look_but_not_act(teams: TeamsWorld) -> None:
    """Typed, clicked (Action.Submit) or executed (adaptiveCard/action): the same refusal."""
    await teams.start()
    await introduce(teams)
    await alert(teams)
    people = {
        "29:other-tenant": member(tenant="9f8e7d6c-0000-4000-8000-0000000000aa"),
        "29:guest": member(role="guest"),
    }
    for number, (member_id, entry) in enumerate(people.items()):
        teams.connector.members[member_id] = {**entry, "id": member_id}
        sender = {"id": member_id, "name": entry["name"], "aadObjectId": f"aad-{number}"}
        for way, build in WAYS.items():
            sent = build(teams, "resolve INC-1 fixed", sender, f"1700000{number}{len(way)}")
            answer = await refused(teams, sent)
            assert "can only look here" in answer, (member_id, way, answer)
            assert await incident_status(teams) == "triggered", (member_id, way)
    sender = {"id": "29:guest", "name": "Dave Taniguchi", "aadObjectId": "aad-1"}
    show = message(teams, "show INC-1", id="17000009", **{"from": sender})
    assert (await teams.send(show)).status_code == 200
    assert any("INC-1" in t for t in teams.connector.requests[-1].texts)


def roster_answers_expire(teams: TeamsWorld) -> None:
    """As if an hour had passed: the roster answers Lookout keeps are due to be asked again."""
    assert teams.running is not None
    [adapter] = [a for a in teams.running.lookout.adapters if isinstance(a, TeamsAdapter)]
    people = adapter.bot._people
    people._members = {key: (member, 0.0) for key, (member, _) in people._members.items()}


async def test_a_sender_the_roster_cannot_name_looks_but_does_not_act(teams: TeamsWorld) -> None:
    """The roster lookup fails: for a guest it does not list (404), then for everyone (the
    roster is down). The activity's tenant is the home one, as for every activity let in,
    so it says nothing of the sender: typed, clicked or executed, they can only look until
    the roster answers, and are told why. Someone it answered for before still acts."""
    await teams.start()
    await introduce(teams)
    await alert(teams)
    guest = {"id": "29:guest", "name": "Gina Guest", "aadObjectId": "aad-guest"}
    for way, build in WAYS.items():
        answer = await refused(
            teams, build(teams, "resolve INC-1 fixed", guest, f"1700003{len(way)}")
        )
        assert "can only look here" in answer and "did not say who you are" in answer, way
        assert await incident_status(teams) == "triggered", way
    shown = await refused(teams, typed(teams, "show INC-1", guest, "17000040"))
    assert "INC-1" in shown and "did not say who you are" in shown
    assert "29:guest" in teams.connector.member_lookups  # the roster was asked
    dave = {"id": SENDER, "name": "Dave Taniguchi", "aadObjectId": DAVE}
    answer = await refused(teams, typed(teams, "ack INC-1", dave, "17000041"))
    assert "did not say" not in answer and await incident_status(teams) == "acknowledged"
    teams.connector.roster_status = 503  # the roster is down
    newcomer = {"id": "29:newcomer", "name": "Nia Newcomer", "aadObjectId": "aad-new"}
    answer = await refused(teams, typed(teams, "resolve INC-1 fixed", newcomer, "17000042"))
    assert "can only look here" in answer and await incident_status(teams) == "acknowledged"
    roster_answers_expire(teams)  # an hour later Dave's answer is asked again, and fails …
    answer = await refused(teams, typed(teams, "resolve INC-1 fixed", dave, "17000043"))
    assert teams.connector.member_lookups.count(SENDER) == 2  # … but his last one stands
    assert "can only look" not in answer and await incident_status(teams) == "resolved"


async def test_a_trusted_tenant_acts_and_names_come_from_the_roster(teams: TeamsWorld) -> None:
    partner = "9f8e7d6c-0000-4000-8000-0000000000aa"
    teams.extra_config = {"access": {"trusted_teams": [partner]}}
    teams.connector.members[SENDER] = member(name="Dave Partner", tenant=partner)
    await teams.start()
    await introduce(teams)
    await alert(teams)
    nameless = message(
        teams, "ack INC-1", id="17000010", **{"from": {"id": SENDER, "aadObjectId": DAVE}}
    )
    assert (await teams.send(nameless)).status_code == 200
    assert await incident_status(teams) == "acknowledged"
    assert any("acknowledged by **Dave Partner**" in t for t in texts(teams.connector.delivered()))
    assert teams.connector.member_lookups == [SENDER]  # asked once, kept


# 7. Invisible characters -------------------------------------------------------------------


async def test_a_no_break_space_after_the_mention_changes_nothing(teams: TeamsWorld) -> None:
    await teams.start()
    await introduce(teams)
    await alert(teams)
    typed = [
        "<at>My Combined</at>\u00a0show\u00a0INC-1",
        "<at>My Combined</at>&nbsp;show INC\u20111",
        "<at>My Combined</at> \u200bshow\u200b #1",
    ]
    for number, text in enumerate(typed):
        sent = teams.activity(
            "01_channel_message_at_mention.json", text=text, id=f"1700002{number}"
        )
        assert (await teams.send(sent)).status_code == 200
        answer = teams.connector.requests[-1]
        assert not any("I don't know" in t for t in answer.texts), (text, answer.texts)
        assert any("INC-1" in t for t in answer.texts), answer.texts


# 8. Status codes, removal, deleted cards ----------------------------------------------------

# Microsoft's table (bot/teams/errors.py): status, code → what Lookout does.
CODES = [
    (403, "BotNotInConversationRoster", "conversation"),
    (403, "ConversationBlockedByUser", "conversation"),
    (403, "BotDisabledByAdmin", "conversation"),
    (404, "ConversationNotFound", "conversation"),
    (401, "BotNotRegistered", "permanent"),
    (403, "InvalidBotApiHost", "permanent"),
    (403, "NotEnoughPermissions", "permanent"),
    (500, "ServiceError", "permanent"),
    (400, "BadArgument", "refused"),
    (413, "MessageSizeTooBig", "refused"),
    (412, "PreconditionFailed", "transient"),
    (502, "ServiceError", "transient"),
    (503, None, "transient"),
    (504, None, "transient"),
    (429, "Throttled", "waits"),
]


def cards(teams: TeamsWorld) -> list[ConnectorRequest]:
    """Cards posted, not the admins' notices."""
    return [
        request
        for request in teams.connector.delivered("post")
        if not any("Lookout cannot post" in text for text in request.texts)
    ]


async def test_each_documented_status_code_is_handled_by_its_kind(teams: TeamsWorld) -> None:
    await teams.start()
    await introduce(teams)
    for number, (status, code, kind) in enumerate(CODES, start=1):
        notices_before = len(await console_notices(teams))
        teams.connector.fail_next(1, status=status, code=code, retry_after="1")
        posted_before = len(cards(teams))
        await alert(teams, service=f"svc-{number}")
        row = await thread_row(teams, number)
        label = f"{status} {code}"
        if kind == "refused":
            assert row.message_id is not None and str(status) in (row.degraded or ""), label
            continue
        assert row.message_id is None, label
        if kind == "waits":
            assert row.attempts == 0 and "rate limited" in (row.last_error or ""), label
            await asyncio.sleep(1.1)
            await teams.flush()
            assert (await thread_row(teams, number)).message_id is not None, label
            continue
        await backdate(teams, number)
        await teams.flush()
        row = await thread_row(teams, number)
        if kind == "transient":
            assert row.message_id is not None and row.gave_up_revision is None, label
            continue
        assert row.gave_up_revision is not None and row.attempts == 1, label
        assert len(cards(teams)) == posted_before, label
        notices = await console_notices(teams)
        assert len(notices) == notices_before + 1 and (code or "") in notices[-1], label
        general = await conversation(teams, CHANNEL)
        if kind != "conversation":
            assert general.removed_at is None, label
            continue
        assert general.removed_at is not None and general.removed_reason == code, label
        # Teams introduces Lookout again: the card that waited goes out.
        await introduce(teams)
        await teams.flush()
        assert len(cards(teams)) == posted_before + 1, label
        assert (await thread_row(teams, number)).message_id is not None, label


async def test_removed_from_a_team_nothing_is_sent_there_until_added_back(
    teams: TeamsWorld,
) -> None:
    await teams.start()
    await introduce(teams)
    introduction = teams.activity("07_conversationUpdate_channel.json")
    removal = teams.activity(
        "07_conversationUpdate_channel.json",
        id="f:removed",
        membersRemoved=[{"id": BOT_ID}],
        channelData={**introduction["channelData"], "eventType": "teamMemberRemoved"},
    )
    assert (await teams.send(removal)).status_code == 200
    general = await conversation(teams, CHANNEL)
    team = await conversation(teams, f"team:{CHANNEL}")
    # marked gone, and not saved again from the removal event itself
    assert general.removed_at is not None and team.removed_at is not None
    await alert(teams)
    assert teams.connector.requests == []  # not even tried
    row = await thread_row(teams, 1)
    assert row.gave_up_revision is not None and "removed" in (row.last_error or "")
    [notice] = await console_notices(teams)
    assert "add the Lookout app there again" in notice
    await alert(teams, count=2)  # changes while removed: still nothing sent, told once
    assert teams.connector.requests == [] and len(await console_notices(teams)) == 1
    # Added back (installationUpdate add): the waiting card goes out on the next pass.
    added = teams.activity(
        "07_conversationUpdate_channel.json",
        id="f:added",
        type="installationUpdate",
        action="add",
        channelData={**introduction["channelData"], "eventType": None},
    )
    assert (await teams.send(added)).status_code == 200
    assert (await conversation(teams, CHANNEL)).removed_at is None
    await teams.flush()
    [card] = teams.connector.delivered("post")
    assert card.conversation_id == CHANNEL


async def test_a_403_on_posting_drops_the_conversation_and_an_uninstall_is_not_saved(
    teams: TeamsWorld,
) -> None:
    await teams.start()
    await introduce(teams)
    teams.connector.removed.add(CHANNEL)  # the app was removed; Teams answers 403
    await alert(teams)
    [refused] = teams.connector.requests
    assert refused.status == 403
    assert (await conversation(teams, CHANNEL)).removed_reason == "BotNotInConversationRoster"
    for count in (2, 3):
        await backdate(teams, 1)
        await alert(teams, count=count)
    assert len(teams.connector.requests) == 1  # never asked again
    # The uninstall event arrives late, through the same conversation: still not saved.
    uninstall = teams.activity(
        "07_conversationUpdate_channel.json",
        id="f:uninstall",
        type="installationUpdate",
        action="remove",
    )
    assert (await teams.send(uninstall)).status_code == 200
    assert (await conversation(teams, CHANNEL)).removed_at is not None
    # A channel deleted: that channel is gone too.
    await teams.send(teams.in_channel(OTHER_CHANNEL, "help"))
    deleted = teams.activity(
        "07_conversationUpdate_channel.json",
        id="f:deleted",
        channelData={
            **teams.activity("07_conversationUpdate_channel.json")["channelData"],
            "eventType": "channelDeleted",
            "channel": {"id": OTHER_CHANNEL, "name": "payments"},
        },
    )
    assert (await teams.send(deleted)).status_code == 200
    assert (await conversation(teams, OTHER_CHANNEL)).removed_at is not None


async def test_a_deleted_card_is_posted_again_and_answers_follow_it(teams: TeamsWorld) -> None:
    await teams.start()
    await introduce(teams)
    await alert(teams)
    [first] = teams.connector.delivered("post")
    assert first.answered_id is not None
    teams.connector.deleted.add(first.answered_id)  # someone deletes the card
    await alert(teams, count=2)
    gone = teams.connector.requests[-2]
    assert (gone.kind, gone.status) == ("update", 404)
    second = teams.connector.requests[-1]
    assert (second.kind, second.status, second.conversation_id) == ("post", 201, CHANNEL)
    row = await thread_row(teams, 1)
    assert row.message_id == second.answered_id and row.gave_up_revision is None
    # A command in another channel about INC-1 answers in the new card's thread.
    await teams.send(teams.in_channel(OTHER_CHANNEL, "show INC-1"))
    answer = teams.connector.delivered("post")[-1]
    assert answer.conversation_id == f"{CHANNEL};messageid={second.answered_id}"
    # …and where it was asked, one line links to it.
    pointer = teams.connector.requests[-1]
    assert pointer.conversation_id.startswith(OTHER_CHANNEL) and "Answered in" in str(pointer.body)


async def test_an_answer_whose_card_thread_is_gone_comes_back_where_asked(
    teams: TeamsWorld,
) -> None:
    await teams.start()
    await introduce(teams)
    await alert(teams)
    [card] = teams.connector.delivered("post")
    assert card.answered_id is not None
    teams.connector.deleted.add(card.answered_id)  # the card, and its reply chain, are gone
    await teams.send(teams.in_channel(OTHER_CHANNEL, "show INC-1"))
    refused, answered = teams.connector.requests[-2:]
    assert refused.status == 404 and refused.conversation_id.startswith(CHANNEL)
    assert answered.status == 201 and answered.conversation_id.startswith(OTHER_CHANNEL)
    assert any("INC-1" in t for t in answered.texts)
