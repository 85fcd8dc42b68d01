"""Runbooks in Teams: a form for missing parameters is an Adaptive Card with Input fields and
an Action.Submit; the submit (its data and the inputs' values in one `value`) runs the command
with the values, through the real botbuilder stack."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from bot.teams.render import FIELDS_KEY, FORM_KEY, INPUT_PREFIX
from tests.bot.teams.conftest import CHANNEL, TeamsWorld
from tests.bot.teams.test_adapter import first_card, in_thread, introduce

PICK = {
    "name": "promote-replica",
    "title": "Promote a replica",
    "risk": "low",
    "parameters": [
        {"name": "service", "type": "string"},
        {"name": "candidate", "type": "enum", "values": ["pg-1", "pg-2"]},
        {"name": "ticket", "type": "string", "description": "the change ticket"},
    ],
    "steps": [{"name": "Echo", "kind": "exec", "argv": ["/bin/echo", "{{candidate}}"]}],
}


def elements(node: Any, kind: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    if isinstance(node, dict):
        if node.get("type") == kind:
            found.append(node)
        for value in node.values():
            found += elements(value, kind)
    elif isinstance(node, list):
        for item in node:
            found += elements(item, kind)
    return found


async def test_a_form_is_card_inputs_and_its_submit_runs_the_plan(
    teams: TeamsWorld, tmp_path: Path
) -> None:
    folder = tmp_path / "runbooks"
    folder.mkdir()
    (folder / "promote.yaml").write_text(yaml.safe_dump(PICK))
    config = tmp_path / "teams-runbooks.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "routing": {"platforms": {"teams": "General"}},
                "runbooks": {
                    "library": False,
                    "folders": [str(folder)],
                    "execution": {"executables": ["/bin/echo"]},
                },
            }
        )
    )
    await teams.start(config=config)
    await introduce(teams)
    card_id = (await first_card(teams)).answered_id
    assert card_id is not None
    conversation = teams.activity("01_channel_message_at_mention.json")["conversation"]
    asked = teams.activity(
        "01_channel_message_at_mention.json",
        text="<at>My Combined</at> run promote-replica --incident INC-1 --dry-run",
        conversation={**conversation, "id": in_thread(card_id)},
    )
    assert (await teams.send(asked)).status_code == 200
    (form_reply,) = teams.connector.delivered("reply")
    choice, text = (
        *elements(form_reply.body, "Input.ChoiceSet"),
        *elements(form_reply.body, "Input.Text"),
    )
    assert choice["id"] == INPUT_PREFIX + "candidate" and choice["isRequired"] is True
    assert [c["value"] for c in choice["choices"]] == ["pg-1", "pg-2"]
    assert text["id"] == INPUT_PREFIX + "ticket" and text["placeholder"] == "the change ticket"
    [submit] = [
        action
        for action in elements(form_reply.body, "Action.Submit")
        if FORM_KEY in action["data"]
    ]
    assert submit["data"] == {
        FORM_KEY: "run promote-replica --incident INC-1 --dry-run",
        FIELDS_KEY: ["candidate", "ticket"],
    }

    # Teams sends the submit as a message whose value is the data plus every input by its id.
    recorded = teams.activity("02_message_with_value_card_submit.json")
    filled = teams.activity(
        "02_message_with_value_card_submit.json",
        value={
            **submit["data"],
            INPUT_PREFIX + "candidate": "pg-1",
            INPUT_PREFIX + "ticket": " CHG-42 ",
        },
        replyToId=form_reply.answered_id,
        conversation={**recorded["conversation"], "id": in_thread(card_id)},
    )
    assert (await teams.send(filled)).status_code == 200
    plan = teams.connector.delivered("reply")[-1]
    assert plan.conversation_id == in_thread(card_id)
    shown = "\n".join(plan.texts)
    assert "dry run: nothing was executed" in shown
    # (Adaptive Cards have no inline code: the backticks go, the values stay.)
    assert "- candidate = pg-1 — given" in shown
    assert "- ticket = CHG-42 — given" in shown
    assert "- service = checkout — label service of Alert0" in shown
    assert CHANNEL in plan.conversation_id
