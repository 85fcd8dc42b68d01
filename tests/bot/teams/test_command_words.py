"""People's ordinary text through the real botbuilder stack (signed activities): text kept as
typed, and a number typed in an incident card's reply chain is text, not another incident."""

from __future__ import annotations

from typing import Any

from storage.database import Database
from tests.bot.teams.conftest import TeamsWorld
from tests.bot.teams.test_adapter import in_thread, introduce
from tests.bot.test_webhook import storm_payload


def typed(teams: TeamsWorld, text: str, *, number: int, root: str | None = None) -> dict[str, Any]:
    """Fixture 01 (an @mention in a channel) saying `text`, in the reply chain of `root`."""
    recorded = teams.activity("01_channel_message_at_mention.json")
    changes: dict[str, Any] = {"text": f"<at>My Combined</at> {text}", "id": f"words-{number}"}
    if root is not None:
        changes["conversation"] = {**recorded["conversation"], "id": in_thread(root)}
    return teams.activity("01_channel_message_at_mention.json", **changes)


def database(teams: TeamsWorld) -> Database:
    assert teams.running is not None
    return teams.running.lookout.database


async def notes(teams: TeamsWorld, incident_id: int) -> list[str]:
    async with database(teams).unit_of_work() as uow:
        events = await uow.incidents.events(incident_id=incident_id)
    return [event.text for event in events if event.kind == "note"]


async def status(teams: TeamsWorld, incident_id: int) -> str:
    async with database(teams).unit_of_work() as uow:
        found = await uow.incidents.get(incident_id=incident_id)
    assert found is not None
    return found.status


async def test_text_as_typed_and_numbers_in_a_reply_chain(teams: TeamsWorld) -> None:
    await teams.start()
    await introduce(teams)
    for service in ("checkout", "search"):
        await teams.alert(storm_payload(1, service=service))
        await teams.flush()
    cards = {
        number: card.answered_id
        for card in teams.connector.delivered("post")
        for number in (1, 2)
        if any(f"INC-{number} ·" in text for text in card.texts)
    }
    assert set(cards) == {1, 2} and all(cards.values())
    said = ["note INC-1 it's the db", r"note INC-1 don't touch C:\temp\x, it's \"hot\""]
    for number, text in enumerate(said):
        assert (await teams.send(typed(teams, text, number=number))).status_code == 200
    assert await notes(teams, 1) == ["it's the db", r"don't touch C:\temp\x, it's \"hot\""]

    second = cards[2]
    assert second is not None
    chain = typed(teams, "resolve 1 replica restarted", number=10, root=second)
    assert (await teams.send(chain)).status_code == 200
    assert await status(teams, 2) == "resolved"
    assert await status(teams, 1) == "triggered"
    answers = [
        text
        for request in teams.connector.delivered()
        if request.kind != "update" and request.conversation_id == in_thread(second)
        for text in request.texts
    ]
    assert any("INC-2 resolved" in text and "1 replica restarted" in text for text in answers)
