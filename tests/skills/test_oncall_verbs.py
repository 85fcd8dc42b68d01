"""unack, assign and severity through the dispatcher: in a thread without the id, with
mentions as the adapters pass them, and the menu on the card."""

from __future__ import annotations

from skills.contract import Actions, Actor, Conversation, Mention
from skills.views.incident_card import card_facts, incident_message
from tests.skills.conftest import NOW, Harness, make_alert, text_of


async def test_in_a_thread_the_incident_may_be_left_out(harness: Harness) -> None:
    await harness.ingestor.ingest([make_alert("HighErrorRate", "checkout", "error")])
    assert "severity **error → info**" in text_of(await harness.say("sev info", incident_id=1))
    assert "INC-1 is now **alice**'s" in text_of(await harness.say("assign me", incident_id=1))
    await harness.say("ack", incident_id=1)
    assert "INC-1 is triggered again" in text_of(await harness.say("unack", incident_id=1))
    assert "Which incident?" in text_of(await harness.say("severity info"))
    assert "`loud` is not a severity" in text_of(await harness.say("severity INC-1 loud"))


async def test_a_mention_names_the_person_even_with_spaces(harness: Harness) -> None:
    await harness.ingestor.ingest([make_alert("HighErrorRate", "checkout", "error")])
    actor = Actor(platform="slack", user_id="U0ALICE", display_name="alice")
    reply = await harness.dispatcher.run(
        "assign INC-1 @Dana Lopez",
        actor=actor,
        conversation=Conversation(platform="slack", channel="C1"),
        mentions=(Mention("U0DANA", "Dana Lopez"),),
    )
    assert "INC-1 is now **Dana Lopez**'s (alice)." in text_of(reply)
    async with harness.database.unit_of_work() as uow:
        incident = await uow.incidents.get(incident_id=1)
        facts = await card_facts(uow.alerts, [1])
    assert incident is not None
    assert (incident.owner_platform, incident.owner_id) == ("slack", "U0DANA")
    card = incident_message(incident, facts[1], NOW)
    assert "Owner: Dana Lopez" in card.plain_text
    actions = next(b for b in card.blocks if isinstance(b, Actions))
    people, severity = actions.menus
    assert people.people and people.command == "assign INC-1"
    assert severity.current == "error"
    assert severity.command_for("critical") == "severity INC-1 critical"
