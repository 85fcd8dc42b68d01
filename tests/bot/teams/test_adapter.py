"""POST /api/messages over real HTTP: the real app, the real botbuilder stack, local fakes of
Microsoft (OpenID/JWKS, token endpoint, Bot Connector), and the recorded Teams activities."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from bot.teams.render import COMMAND_KEY
from tests.bot.teams.conftest import CHANNEL, OTHER_CHANNEL, TeamsWorld
from tests.bot.teams.fakes import ConnectorRequest, new_rsa_key
from tests.bot.test_webhook import storm_payload

DAVE = "6b703ce3-6d14-4fe6-b90c-dc5f03657ae4"  # aadObjectId of the sender in 01–07
TIEN = "6d415fdd-f97e-4f70-ac45-e69601e4ecb2"  # aadObjectId of the sender in 08


def in_thread(root: str) -> str:
    return f"{CHANNEL};messageid={root}"


async def introduce(teams: TeamsWorld) -> None:
    """Teams tells the bot about the team and its General channel (fixture 07)."""
    response = await teams.send(teams.activity("07_conversationUpdate_channel.json"))
    assert response.status_code == 200, response.text


async def first_card(teams: TeamsWorld) -> ConnectorRequest:
    await teams.alert(storm_payload(3, service="checkout"))
    await teams.flush()
    (card,) = teams.connector.delivered("post")
    return card


def card_commands(request: ConnectorRequest) -> list[str]:
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "Action.Submit" and COMMAND_KEY in node["data"]:
                found.append(node["data"][COMMAND_KEY])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(request.body)
    return found


async def test_channel_mention_is_answered_in_its_thread(teams: TeamsWorld) -> None:
    await teams.start()
    mention = teams.activity(
        "01_channel_message_at_mention.json", text="<at>My Combined</at> help\n"
    )
    response = await teams.send(mention)
    assert response.status_code == 200, response.text
    (answer,) = teams.connector.requests
    # a reply to the @mention, in the reply chain the message started
    assert (answer.kind, answer.conversation_id, answer.activity_id) == (
        "reply",
        in_thread("1571537152320"),
        "1571537152320",
    )
    assert "**Lookout commands**" in answer.texts
    # the outgoing call carries the token the bot got from the (fake) Microsoft login
    assert answer.authorization == f"Bearer {teams.identity.issued_tokens[-1]}"
    assert teams.identity.metadata_fetches == 1


async def test_the_recorded_mention_reaches_the_dispatcher_stripped(teams: TeamsWorld) -> None:
    await teams.start()
    response = await teams.send(teams.activity("01_channel_message_at_mention.json"))
    assert response.status_code == 200
    (answer,) = teams.connector.requests
    # "<at>My Combined</at>1\n" → "1", which the dispatcher does not know
    assert any("I don't know 1" in text for text in answer.texts), answer.texts


async def test_personal_chat_runs_the_same_dispatcher_and_is_audited(teams: TeamsWorld) -> None:
    running = await teams.start()
    chat = teams.activity("08_personal_message.json", text="incidents")
    assert (await teams.send(chat)).status_code == 200
    (answer,) = teams.connector.requests
    assert answer.conversation_id == chat["conversation"]["id"]
    assert answer.activity_id == chat["id"]
    async with running.lookout.database.unit_of_work() as uow:
        user = await uow.users.get(platform="teams", platform_user_id=TIEN)
        (entry,) = await uow.audit.recent(action="incidents")
    assert user is not None and (user.display_name, user.role) == ("Tien Suwandy", "responder")
    assert (entry.platform, entry.user_id, entry.outcome) == ("teams", TIEN, "ok")


async def test_conversation_update_stores_where_lookout_may_post(teams: TeamsWorld) -> None:
    running = await teams.start()
    await introduce(teams)
    assert teams.connector.requests == []  # nothing said, only remembered
    async with running.lookout.database.unit_of_work() as uow:
        general = await uow.conversations.find(platform="teams", key_or_name="General")
        team = await uow.conversations.find(platform="teams", key_or_name="DaveTeams TEST")
    assert general is not None and general.key == CHANNEL
    assert general.reference["serviceUrl"] == teams.connector.service_url
    assert team is not None and team.key == f"team:{CHANNEL}"


async def test_an_incident_gets_one_card_and_a_submit_acks_it_in_place(teams: TeamsWorld) -> None:
    await teams.start()
    await introduce(teams)
    card = await first_card(teams)
    # a new post in the routed channel: a thread of its own, not a reply
    assert (card.method, card.conversation_id, card.activity_id) == ("POST", CHANNEL, None)
    attachment = card.body["attachments"][0]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert attachment["content"]["version"] == "1.5"
    assert card_commands(card) == [
        "ack INC-1",
        "assign INC-1 me",
        "show INC-1",
        "runbooks --incident INC-1",
        "similar INC-1",
        "correlate INC-1",
        "resolve INC-1",
    ]
    card_id = card.answered_id
    assert card_id is not None

    # fixture 02: a click on Acknowledge comes back as a message whose value is the data
    submit = teams.activity(
        "02_message_with_value_card_submit.json",
        value={COMMAND_KEY: "ack INC-1"},
        replyToId=card_id,
        conversation={
            **teams.activity("02_message_with_value_card_submit.json")["conversation"],
            "id": in_thread(card_id),
        },
    )
    response = await teams.send(submit)
    assert response.status_code == 200, response.text
    (ack,) = teams.connector.delivered("reply")
    assert ack.conversation_id == in_thread(card_id)
    assert any("acknowledged by **Dave Taniguchi**" in text for text in ack.texts), ack.texts

    await teams.flush()
    (update,) = teams.connector.delivered("update")
    assert (update.method, update.conversation_id, update.activity_id) == ("PUT", CHANNEL, card_id)
    assert any("Acknowledged by Dave Taniguchi" in text for text in update.texts), update.texts
    assert "ack INC-1" not in card_commands(update)
    assert len(teams.connector.delivered("post")) == 1


async def test_a_card_action_invoke_runs_the_command_and_answers_200(teams: TeamsWorld) -> None:
    await teams.start()
    await introduce(teams)
    card_id = (await first_card(teams)).answered_id
    assert card_id is not None
    recorded = teams.activity("06_invoke_unnamed_card_action.json")
    invoke = teams.activity(
        "06_invoke_unnamed_card_action.json",
        value={COMMAND_KEY: "ack"},  # no id: the incident is the card's (replyToId)
        replyToId=card_id,
        conversation={**recorded["conversation"], "id": in_thread(card_id)},
    )
    response = await teams.send(invoke)
    assert response.status_code == 200, response.text
    (ack,) = teams.connector.delivered("reply")
    assert ack.conversation_id == in_thread(card_id)
    assert any("INC-1 acknowledged" in text for text in ack.texts), ack.texts


async def test_action_execute_invokes_get_an_adaptive_card_invoke_response(
    teams: TeamsWorld,
) -> None:
    await teams.start()
    invoke = teams.activity(
        "06_invoke_unnamed_card_action.json",
        name="adaptiveCard/action",
        value={"action": {"type": "Action.Execute", "verb": "run", "data": {COMMAND_KEY: "help"}}},
    )
    response = await teams.send(invoke)
    assert response.status_code == 200, response.text
    assert response.json()["statusCode"] == 200
    assert response.json()["type"] == "application/vnd.microsoft.activity.message"
    assert len(teams.connector.delivered("reply")) == 1


async def test_task_module_invokes_are_not_ours(teams: TeamsWorld) -> None:
    await teams.start()
    response = await teams.send(teams.activity("04_invoke_task_fetch_from_card_action.json"))
    assert response.status_code == 501
    assert teams.connector.requests == []


async def test_a_command_about_an_incident_goes_to_its_card_thread(teams: TeamsWorld) -> None:
    await teams.start()
    await introduce(teams)
    card_id = (await first_card(teams)).answered_id
    assert card_id is not None
    # typed in a different thread of the channel (the recorded one)
    mention = teams.activity(
        "01_channel_message_at_mention.json", text="<at>My Combined</at> ack INC-1"
    )
    assert (await teams.send(mention)).status_code == 200
    (answer,) = teams.connector.delivered("post")[1:]
    assert answer.conversation_id == in_thread(card_id)
    assert any("INC-1 acknowledged" in text for text in answer.texts)


async def test_a_storm_makes_one_card_per_incident_updated_in_place(teams: TeamsWorld) -> None:
    await teams.start()
    await introduce(teams)  # the General channel, where checkout goes
    # payments goes to another channel, which Lookout learns when it is @mentioned there
    assert (await teams.send(teams.in_channel(OTHER_CHANNEL, "help"))).status_code == 200
    before = len(teams.connector.requests)
    teams.connector.fail_next(1, status=429, retry_after="1")
    for count in (2, 4, 6):
        # concurrent deliveries for two services, while the notifier also runs on its own
        await asyncio.gather(
            *(teams.alert(storm_payload(count, service="checkout")) for _ in range(3)),
            *(teams.alert(storm_payload(count, service="payments")) for _ in range(3)),
        )
        await teams.flush()
    # the 429 was honoured (Retry-After: 1) and the post retried, not dropped; the other
    # channel's card did not wait for it
    throttled = teams.connector.requests[before]
    assert (throttled.status, throttled.kind) == (429, "post")

    def first_post(conversation: str) -> ConnectorRequest | None:
        return next(
            (r for r in teams.connector.delivered("post") if r.conversation_id == conversation),
            None,
        )

    for _ in range(100):
        if first_post(throttled.conversation_id) is not None:
            break
        await asyncio.sleep(0.05)
    retried = first_post(throttled.conversation_id)
    other = first_post(({CHANNEL, OTHER_CHANNEL} - {throttled.conversation_id}).pop())
    assert retried is not None and other is not None
    assert retried.at - throttled.at >= 0.9 and other.at < retried.at
    await teams.alert(storm_payload(7, service="checkout"))
    await teams.alert(storm_payload(7, service="payments"))
    await teams.flush()

    posts = teams.connector.delivered("post")
    assert sorted(p.conversation_id for p in posts) == sorted([CHANNEL, OTHER_CHANNEL])
    cards = {p.answered_id: p.conversation_id for p in posts}
    updates = teams.connector.delivered("update")
    assert {u.activity_id for u in updates} == set(cards)  # both cards changed, in place
    assert all(cards[u.activity_id] == u.conversation_id for u in updates)

    # the ids are stored: a restarted Lookout updates the same card rather than posting
    await teams.stop()
    await teams.start()
    teams.connector.fail_next(1, status=503)
    await teams.alert(storm_payload(8, service="checkout"))
    await teams.flush()
    assert teams.connector.requests[-1].status == 503  # retried later, with backoff
    assert teams.running is not None
    async with teams.running.lookout.database.unit_of_work() as uow:
        row = await uow.threads.get(incident_id=1, platform="teams")
        assert row is not None and row.attempts == 1
        row.updated_at = row.updated_at.replace(year=2000)  # the backoff is over
    await teams.flush()
    assert len(teams.connector.delivered("post")) == 2
    last = teams.connector.requests[-1]
    assert (last.kind, last.status, last.conversation_id) == ("update", 200, CHANNEL)
    assert cards[last.activity_id] == CHANNEL


async def test_a_viewer_is_refused(teams: TeamsWorld) -> None:
    running = await teams.start()
    first = teams.activity("08_personal_message.json", text="help")
    assert (await teams.send(first)).status_code == 200
    async with running.lookout.database.unit_of_work() as uow:
        await uow.users.set_role(platform="teams", platform_user_id=TIEN, role="viewer")
    again = teams.activity("08_personal_message.json", id="1571691217999", text="resolve INC-1")
    assert (await teams.send(again)).status_code == 200
    refusal = teams.connector.requests[-1]
    assert any("needs the responder role" in text for text in refusal.texts), refusal.texts
    async with running.lookout.database.unit_of_work() as uow:
        (entry,) = await uow.audit.recent(action="resolve")
    assert (entry.user_id, entry.outcome) == (TIEN, "denied")


def _forged(teams: TeamsWorld, activity: dict[str, Any], case: str) -> str | None:
    url = activity["serviceUrl"]
    if case == "missing":
        return None
    if case == "not a jwt":
        return "Bearer not-a-jwt"
    if case == "basic scheme":
        return f"Basic {teams.token(activity)}"
    if case == "unknown key":
        return f"Bearer {teams.identity.sign(service_url=url, key=new_rsa_key(), key_id='other')}"
    if case == "forged signature":
        return f"Bearer {teams.identity.sign(service_url=url, key=new_rsa_key())}"
    if case == "another bot":
        return f"Bearer {teams.identity.sign(service_url=url, audience='someone-else')}"
    if case == "expired":
        return f"Bearer {teams.identity.sign(service_url=url, expires_in=-3600)}"
    if case == "wrong issuer":
        return f"Bearer {teams.identity.sign(service_url=url, issuer='https://evil.example')}"
    if case == "other service url":
        return f"Bearer {teams.identity.sign(service_url='https://evil.example/')}"
    raise AssertionError(case)


@pytest.mark.parametrize(
    "case",
    [
        "missing",
        "not a jwt",
        "basic scheme",
        "unknown key",
        "forged signature",
        "another bot",
        "expired",
        "wrong issuer",
        "other service url",
    ],
)
async def test_a_bad_token_is_401_and_runs_nothing(teams: TeamsWorld, case: str) -> None:
    running = await teams.start()
    activity = teams.activity("08_personal_message.json", text="help")
    response = await teams.send(activity, authorization=_forged(teams, activity, case))
    assert response.status_code == 401
    assert teams.connector.requests == []
    async with running.lookout.database.unit_of_work() as uow:
        assert await uow.users.get(platform="teams", platform_user_id=TIEN) is None
        assert await uow.conversations.all(platform="teams") == []


async def test_another_tenant_is_refused(teams: TeamsWorld) -> None:
    await teams.start(teams_tenant_id="00000000-0000-0000-0000-000000000000")
    response = await teams.send(teams.activity("08_personal_message.json", text="help"))
    assert response.status_code == 403
    assert teams.connector.requests == []


async def test_a_redelivered_activity_runs_once(teams: TeamsWorld) -> None:
    running = await teams.start()
    chat = teams.activity("08_personal_message.json", text="help")
    first, second = await asyncio.gather(teams.send(chat), teams.send(chat))
    assert {first.status_code, second.status_code} == {200}
    assert len(teams.connector.requests) == 1

    # a redelivered Acknowledge click acknowledges once and answers once
    await introduce(teams)
    card_id = (await first_card(teams)).answered_id
    recorded_submit = teams.activity("02_message_with_value_card_submit.json")
    submit = teams.activity(
        "02_message_with_value_card_submit.json",
        value={COMMAND_KEY: "ack"},
        replyToId=card_id,
        conversation={**recorded_submit["conversation"], "id": in_thread(str(card_id))},
    )
    for _ in range(2):
        assert (await teams.send(submit)).status_code == 200
    assert len(teams.connector.delivered("reply")) == 2  # help, then the one ack
    async with running.lookout.database.unit_of_work() as uow:
        assert len(await uow.audit.recent(action="ack")) == 1


async def test_a_reply_survives_a_throttled_connector(teams: TeamsWorld) -> None:
    await teams.start()
    teams.connector.fail_next(2, status=502)
    started = time.monotonic()
    response = await teams.send(teams.activity("08_personal_message.json", text="help"))
    assert response.status_code == 200
    assert [r.status for r in teams.connector.requests] == [502, 502, 201]
    assert time.monotonic() - started < 5


async def test_submits_from_other_cards_are_ignored(teams: TeamsWorld) -> None:
    await teams.start()
    for fixture in (
        "02_message_with_value_card_submit.json",
        "03_message_with_value_card_submit_b.json",
    ):
        assert (await teams.send(teams.activity(fixture))).status_code == 200
    assert teams.connector.requests == []


@pytest.mark.parametrize("body", [b"{not json", b"[]", b'{"text": "no type"}'])
async def test_a_body_that_is_not_an_activity_is_400(teams: TeamsWorld, body: bytes) -> None:
    running = await teams.start()
    async with running.client() as client:
        response = await client.post(
            "/api/messages", content=body, headers={"Content-Type": "application/json"}
        )
    assert response.status_code == 400


async def test_a_turn_that_cannot_answer_is_500_and_counted(teams: TeamsWorld) -> None:
    running = await teams.start()
    teams.connector.fail_next(4, status=500)
    response = await teams.send(teams.activity("08_personal_message.json", text="help"))
    assert response.status_code == 500
    # our retries only (4 attempts): the connector client's own 5xx retries are off
    assert [r.status for r in teams.connector.requests] == [500] * 4
    async with running.client() as client:
        metrics = (await client.get("/metrics")).text
    assert 'lookout_errors_total{where="teams"} 1.0' in metrics


async def test_insecure_dev_mode_takes_unsigned_emulator_requests(teams: TeamsWorld) -> None:
    await teams.start(teams_app_id=None, teams_app_password=None, teams_insecure_dev=True)
    response = await teams.send(
        teams.activity("08_personal_message.json", text="help"), authorization=None
    )
    assert response.status_code == 200
    (answer,) = teams.connector.requests
    assert answer.authorization is None  # no identity, so nothing to sign replies with
