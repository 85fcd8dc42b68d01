"""unack, assign and severity through the real Bolt stack: typed, and from the card's
buttons and menus (static_select, users_select), with signed requests."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, urlencode

from tests.bot.slack.conftest import SlackWorld, block_action, slash_command
from tests.bot.slack.test_slack_adapter import ingest
from tests.bot.test_webhook import storm_payload

ROOT_TS = "1700000000.000001"
UNACK = json.dumps({"command": "unack INC-1"})


def elements(call: Any) -> list[dict[str, Any]]:
    return [
        element
        for block in call.params["blocks"]
        if block["type"] == "actions"
        for element in block["elements"]
    ]


def chosen(action: dict[str, Any], trigger: str, world: SlackWorld, user: str = "W111") -> bytes:
    """A block_actions body whose action is `action` (a menu's choice, as Slack sends it)."""
    body = block_action(
        "unused",
        message_ts=ROOT_TS,
        channel="C0INCIDENTS",
        trigger=trigger,
        response_url=world.fake.response_url(),
        user=user,
    )
    payload = json.loads(parse_qs(body.decode())["payload"][0])
    payload["actions"] = [{**action, "block_id": "b1", "action_ts": "1700000001.000001"}]
    return urlencode({"payload": json.dumps(payload)}).encode()


async def incident(world: SlackWorld) -> Any:
    async with world.server.lookout.database.unit_of_work() as uow:
        row = await uow.incidents.get(incident_id=1)
        events = await uow.incidents.events(incident_id=1)
        audit = await uow.audit.recent(limit=20)
    return row, events, audit


async def test_the_cards_menus_set_severity_and_owner(slack: SlackWorld) -> None:
    slack.fake.add_user("U0DANA", display_name="Dana Lopez", real_name="Dana Lopez")
    await ingest(slack, storm_payload(2, "checkout"))
    [root] = slack.fake.calls_to("chat.postMessage")
    found = {element["type"]: element for element in elements(root)}
    severity = found["static_select"]
    assert severity["initial_option"]["text"]["text"] == "Critical"
    warning = next(o for o in severity["options"] if o["text"]["text"] == "Warning")
    assert json.loads(warning["value"]) == {"command": "severity INC-1 warning"}
    people = found["users_select"]
    assert people["action_id"] == "lookout:people:assign INC-1"

    await slack.send(
        chosen({**severity, "selected_option": warning}, "t-severity", slack),
    )
    answer = (await slack.fake.wait_for("chat.postMessage", 2))[1]
    assert "INC-1 severity *critical → warning* (w111)" in answer.params["text"]
    [update] = await slack.fake.wait_for("chat.update", 1)
    assert update.params["ts"] == ROOT_TS
    after = {element["type"]: element for element in elements(update)}
    assert after["static_select"]["initial_option"]["text"]["text"] == "Warning"

    picked = {"type": "users_select", "action_id": people["action_id"], "selected_user": "U0DANA"}
    await slack.send(chosen(picked, "t-assign", slack))
    answer = (await slack.fake.wait_for("chat.postMessage", 3))[2]
    assert "INC-1 is now *Dana Lopez*'s (w111)" in answer.params["text"]
    updates = await slack.fake.wait_for("chat.update", 2)
    assert "*Owner*\\nDana Lopez" in json.dumps(updates[-1].params["blocks"])

    row, events, audit = await incident(slack)
    assert (row.owner_platform, row.owner_id, row.owner_name) == ("slack", "U0DANA", "Dana Lopez")
    assert row.severity == "warning" and row.severity_set_by == "w111"
    severity_event = next(e for e in events if e.kind == "severity")
    assert severity_event.text == "Severity critical → warning by w111"
    assert severity_event.data == {"from": "critical", "to": "warning"}
    assert {(a.action, a.outcome) for a in audit} >= {("severity", "ok"), ("assign", "ok")}


def posted(world: SlackWorld, text: str) -> int:
    """How many chat.postMessage calls so far carry `text` (answers, not pointers)."""
    return sum(
        text in call.params.get("text", "") for call in world.fake.calls_to("chat.postMessage")
    )


async def test_typed_mentions_and_me_assign_and_unack_gives_back(slack: SlackWorld) -> None:
    slack.fake.add_user("U0ERIN", display_name="Erin")
    await ingest(slack, storm_payload(1, "checkout"))
    await slack.send(
        slash_command(
            "assign INC-1 <@U0ERIN|erin>", trigger="t-a1", response_url=slack.fake.response_url()
        )
    )
    await slack.fake.wait_until(lambda: posted(slack, "INC-1 is now") == 1)
    row, _, _ = await incident(slack)
    assert (row.owner_id, row.owner_name) == ("U0ERIN", "Erin")

    await slack.send(
        slash_command("assign INC-1 me", trigger="t-a2", response_url=slack.fake.response_url())
    )
    await slack.fake.wait_until(lambda: posted(slack, "INC-1 is now") == 2)
    row, events, _ = await incident(slack)
    assert (row.owner_id, row.owner_name) == ("W111", "w111")
    assert [e.text for e in events if e.kind == "assigned"][-1] == (
        "Assigned to w111 by w111 (was Erin)"
    )

    await slack.send(
        slash_command("ack INC-1", trigger="t-ack", response_url=slack.fake.response_url())
    )
    await slack.fake.wait_until(lambda: posted(slack, "acknowledged by") == 1)

    def unack_button() -> dict[str, Any] | None:
        updates = slack.fake.calls_to("chat.update")
        found = [e for e in elements(updates[-1]) if e.get("value") == UNACK] if updates else []
        return found[0] if found else None

    await slack.fake.wait_until(lambda: unack_button() is not None)
    unack = unack_button()
    assert unack is not None and unack["text"]["text"] == "Unacknowledge"
    await slack.send(
        block_action(
            json.loads(unack["value"])["command"],
            message_ts=ROOT_TS,
            channel="C0INCIDENTS",
            trigger="t-unack",
            response_url=slack.fake.response_url(),
        )
    )
    # The answer goes to INC-1's thread (a typed command also leaves a pointer where asked).
    await slack.fake.wait_until(
        lambda: any(
            "INC-1 is triggered again (w111)" in call.params.get("text", "")
            for call in slack.fake.calls_to("chat.postMessage")
        )
    )
    row, events, _ = await incident(slack)
    assert row.status == "triggered" and row.acknowledged_by is None
    assert events[-1].kind == "unacknowledged"

    await slack.send(
        slash_command("resolve INC-1", trigger="t-res", response_url=slack.fake.response_url())
    )
    await slack.fake.wait_for("chat.postMessage", 6)
    await slack.send(
        slash_command("unack INC-1", trigger="t-un2", response_url=slack.fake.response_url("no"))
    )
    [hook] = await slack.fake.wait_for("response_url")
    assert hook.params["text"] == (
        "INC-1 is resolved, so there is no acknowledgement to take back; "
        "it reopens by itself if its alerts fire again."
    )
