"""The card's severity choice set and on-call buttons, and a mention to assign, through the
real botbuilder stack over HTTP with signed activities."""

from __future__ import annotations

from typing import Any

from bot.teams.render import MENU_INPUT_KEY, MENU_KEY
from tests.bot.teams.conftest import TeamsWorld
from tests.bot.teams.test_adapter import card_commands, first_card, in_thread, introduce

ANA = "29:1ana-mention-id"


def choice_sets(node: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    if isinstance(node, dict):
        if node.get("type") == "Input.ChoiceSet":
            found.append(node)
        for value in node.values():
            found += choice_sets(value)
    elif isinstance(node, list):
        for item in node:
            found += choice_sets(item)
    return found


def menu_submits(node: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    if isinstance(node, dict):
        if node.get("type") == "Action.Submit" and MENU_KEY in node.get("data", {}):
            found.append(node["data"])
        for value in node.values():
            found += menu_submits(value)
    elif isinstance(node, list):
        for item in node:
            found += menu_submits(item)
    return found


def submit(teams: TeamsWorld, card_id: str, value: dict[str, Any], n: int) -> dict[str, Any]:
    """Fixture 02: a card's Action.Submit, as a message whose value is the data and inputs;
    `n` makes its activity id its own (a repeated id is a redelivery)."""
    recorded = teams.activity("02_message_with_value_card_submit.json")
    return teams.activity(
        "02_message_with_value_card_submit.json",
        id=f"f:submit-{n}",
        value=value,
        replyToId=card_id,
        conversation={**recorded["conversation"], "id": in_thread(card_id)},
    )


async def test_the_cards_choice_set_sets_severity_and_buttons_assign(teams: TeamsWorld) -> None:
    await teams.start()
    await introduce(teams)
    card = await first_card(teams)
    card_id = card.answered_id
    assert card_id is not None
    [severity] = choice_sets(card.body)
    assert severity["value"] == "critical"
    assert [c["value"] for c in severity["choices"]] == ["critical", "error", "warning", "info"]
    [menu] = menu_submits(card.body)
    assert menu == {MENU_KEY: "severity INC-1", MENU_INPUT_KEY: severity["id"]}

    # The choice set's value comes back beside the submit's data.
    response = await teams.send(submit(teams, card_id, {**menu, severity["id"]: "warning"}, 1))
    assert response.status_code == 200, response.text
    (answer,) = teams.connector.delivered("reply")
    assert any("severity **critical → warning**" in text for text in answer.texts), answer.texts
    await teams.flush()
    (update,) = teams.connector.delivered("update")
    assert update.activity_id == card_id
    [after] = choice_sets(update.body)
    assert after["value"] == "warning"

    response = await teams.send(submit(teams, card_id, {"lookout_command": "assign INC-1 me"}, 2))
    assert response.status_code == 200, response.text
    await teams.flush()
    updates = teams.connector.delivered("update")
    texts = updates[-1].texts
    assert "Owner" in texts and texts[texts.index("Owner") + 1] == "Dave Taniguchi", [
        r.texts for r in teams.connector.delivered("reply")
    ]

    # A submit whose choice is missing runs nothing.
    response = await teams.send(submit(teams, card_id, dict(menu), 3))
    assert response.status_code == 200
    assert len(teams.connector.delivered("reply")) == 2

    async with teams.running.lookout.database.unit_of_work() as uow:  # type: ignore[union-attr]
        incident = await uow.incidents.get(incident_id=1)
    assert incident is not None and incident.severity == "warning"
    assert incident.owner_name == "Dave Taniguchi"


async def test_a_mention_assigns_that_person(teams: TeamsWorld) -> None:
    await teams.start()
    await introduce(teams)
    card = await first_card(teams)
    recorded = teams.activity("01_channel_message_at_mention.json")
    mention = teams.activity(
        "01_channel_message_at_mention.json",
        text="<at>My Combined</at> assign INC-1 <at>Ana Lopez</at>",
        entities=[
            *recorded["entities"],
            {
                "type": "mention",
                "text": "<at>Ana Lopez</at>",
                "mentioned": {"id": ANA, "name": "Ana Lopez"},
            },
        ],
    )
    response = await teams.send(mention)
    assert response.status_code == 200, response.text
    async with teams.running.lookout.database.unit_of_work() as uow:  # type: ignore[union-attr]
        incident = await uow.incidents.get(incident_id=1)
    assert incident is not None
    assert (incident.owner_platform, incident.owner_id, incident.owner_name) == (
        "teams",
        ANA,
        "Ana Lopez",
    )
    assert "assign INC-1 me" in card_commands(card)
