"""unack, assign and severity through the console API: typed and from the card's buttons,
with roles, audit, the card updated in place, and the owner in `incidents` and `show`."""

from __future__ import annotations

from typing import Any

import httpx

from skills.contract import Role
from tests.bot.console.test_api import command
from tests.bot.test_webhook import storm_payload, wait_for_posts
from tests.conftest import RunningServer


async def card(client: httpx.AsyncClient, server: RunningServer) -> dict[str, Any]:
    await server.lookout.notifier.flush()
    messages = (await client.get("/console/api/messages", params={"channel": "#incidents"})).json()
    root: dict[str, Any] = messages[0]
    return root


def fields(message: dict[str, Any]) -> dict[str, str]:
    block = next(b for b in message["blocks"] if b["type"] == "fields")
    return {field["label"]: field["value"] for field in block["fields"]}


def buttons(message: dict[str, Any]) -> dict[str, str]:
    """Every button of the message, a menu's as `Menu: choice` (` ✓` on the current one)."""
    found: dict[str, str] = {}
    for block in message["blocks"]:
        if block["type"] != "actions":
            continue
        for button in block["buttons"]:
            label = button["label"]
            if block.get("label"):
                label = f"{block['label']}: {label}"
                label += " ✓" if button["style"] == "primary" else ""
            found[label] = button["command"]
    return found


def said(answer: dict[str, Any]) -> str:
    blocks = answer["message"]["blocks"] if answer.get("message") else answer["blocks"]
    return " ".join(b.get("text", "") for b in blocks)


async def test_assign_severity_and_unack_from_the_card(server: RunningServer) -> None:
    async with server.client() as client:
        await client.post("/webhooks/alertmanager", json=storm_payload(2))
        [root] = await wait_for_posts(server, 1)
        assert "Owner" not in fields(root)
        # The card's buttons are the commands: assign to me, then a severity choice.
        mine = buttons(root)["Assign to me"]
        answer = await command(client, mine, channel="#incidents", user="dana")
        assert "INC-1 is now **dana**'s (dana)." in said(answer)
        await command(client, "help", user="erin")  # a person Lookout knows
        await command(client, "assign INC-1 erin", channel="#incidents", user="dana")
        updated = await card(client, server)
        assert updated["id"] == root["id"] and fields(updated)["Owner"] == "erin"

        lower = buttons(updated)["Severity: Warning"]
        assert lower == "severity INC-1 warning"
        answer = await command(client, lower, channel="#incidents", user="dana")
        assert "INC-1 severity **critical → warning** (dana)." in said(answer)
        updated = await card(client, server)
        assert fields(updated)["Severity"] == "warning"
        assert "Severity: Warning ✓" in buttons(updated)

        # An alert arriving later does not undo the person's severity.
        await client.post("/webhooks/alertmanager", json=storm_payload(3))
        await server.lookout.notifier.flush()
        updated = await card(client, server)
        assert fields(updated)["Severity"] == "warning"

        listed = await command(client, "incidents", channel="#incidents")
        table = next(b for b in listed["message"]["blocks"] if b["type"] == "table")
        assert table["columns"][-1] == "Owner" and table["rows"][0][-1] == "erin"
        shown = await command(client, "show INC-1", channel="#incidents")
        shown_fields = next(b for b in shown["message"]["blocks"] if b["type"] == "fields")
        assert {"label": "Owner", "value": "erin"} in shown_fields["fields"]
        [api] = (await client.get("/console/api/incidents")).json()
        assert api["owner"] == "erin" and api["severity"] == "warning"

        timeline = await command(client, "timeline INC-1", channel="#incidents")
        text = str(timeline["message"]["blocks"])
        assert "Severity critical → warning by dana" in text
        assert "Assigned to erin by dana (was dana)" in text

        # unack: refused before an ack, gives an ack back, refused once resolved.
        refused = await command(client, "unack INC-1", channel="#incidents", user="dana")
        assert refused["ephemeral"] and "INC-1 is not acknowledged" in said(refused)
        await command(client, "ack INC-1", channel="#incidents", user="dana")
        updated = await card(client, server)
        assert buttons(updated)["Unacknowledge"] == "unack INC-1"
        answer = await command(client, "unack INC-1", channel="#incidents", user="erin")
        assert "INC-1 is triggered again (erin)" in said(answer)
        updated = await card(client, server)
        assert fields(updated)["Status"] == "Triggered — not acknowledged"
        assert "Acknowledge" in buttons(updated) and "Unacknowledge" not in buttons(updated)
        await command(client, "resolve INC-1", channel="#incidents", user="dana")
        refused = await command(client, "unack INC-1", channel="#incidents", user="dana")
        assert said(refused) == (
            "INC-1 is resolved, so there is no acknowledgement to take back; "
            "it reopens by itself if its alerts fire again."
        )

    async with server.lookout.database.unit_of_work() as uow:
        audit = await uow.audit.recent(limit=50)
    outcomes = [(a.action, a.user_id, a.outcome) for a in audit]
    assert ("unack", "erin", "ok") in outcomes and ("unack", "dana", "conflict") in outcomes
    assert ("severity", "dana", "ok") in outcomes and ("assign", "dana", "ok") in outcomes


async def test_viewers_cannot_use_the_on_call_verbs(server: RunningServer) -> None:
    async with server.client() as client:
        await client.post("/webhooks/alertmanager", json=storm_payload(1))
        await wait_for_posts(server, 1)
        await command(client, "help", user="vic")
        async with server.lookout.database.unit_of_work() as uow:
            await uow.users.set_role(
                platform="console", platform_user_id="vic", role=Role.VIEWER.label
            )
        for text in ("assign INC-1 me", "severity INC-1 info", "unack INC-1"):
            answer = await command(client, text, channel="#incidents", user="vic")
            assert answer["ephemeral"] and "needs the responder role" in said(answer)
        bad = await command(client, "severity INC-1 loud", channel="#incidents")
        assert said(bad).startswith("`loud` is not a severity.")
        nobody = await command(client, "assign INC-1", channel="#incidents")
        assert "Whom should it be assigned to?" in said(nobody)
    async with server.lookout.database.unit_of_work() as uow:
        incident = await uow.incidents.get(incident_id=1)
    assert incident is not None and incident.owner_name is None
    assert incident.severity == "critical"
