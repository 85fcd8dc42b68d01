"""The console's JSON API and live stream, over real HTTP."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import httpx

from bot.console.render import render_block
from skills.contract import File, Form, Input, form_command
from tests.bot.test_webhook import storm_payload, wait_for_posts
from tests.conftest import RunningServer


async def command(client: httpx.AsyncClient, text: str, **extra: Any) -> dict[str, Any]:
    response = await client.post(
        "/console/api/command", json={"text": text, "user": "alice", **extra}
    )
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def test_incident_message_buttons_and_thread_replies(server: RunningServer) -> None:
    async with server.client() as client:
        await client.post("/webhooks/alertmanager", json=storm_payload(2))
        [root] = await wait_for_posts(server, 1)
        assert root["incident_id"] == 1 and root["thread_id"] is None
        assert root["color"] == "critical"
        buttons = next(b for b in root["blocks"] if b["type"] == "actions")["buttons"]
        assert [(b["label"], b["command"]) for b in buttons] == [
            ("Acknowledge", "ack INC-1"),
            ("Assign to me", "assign INC-1 me"),
            ("Details", "show INC-1"),
            ("Run runbook", "runbooks --incident INC-1"),
            ("Similar", "similar INC-1"),
            ("Correlate", "correlate INC-1"),
            ("Resolve", "resolve INC-1"),
        ]
        menu = [b for b in root["blocks"] if b["type"] == "actions"][1]
        assert menu["label"] == "Severity"
        assert [(b["label"], b["command"], b["style"]) for b in menu["buttons"]] == [
            ("Critical", "severity INC-1 critical", "primary"),
            ("Error", "severity INC-1 error", "default"),
            ("Warning", "severity INC-1 warning", "default"),
            ("Info", "severity INC-1 info", "default"),
        ]
        # A click sends the button's command; the answer goes to the incident's thread.
        answer = await command(client, "/lookout ack INC-1", channel="#incidents")
        assert answer["ephemeral"] is False
        assert answer["message"]["thread_id"] == root["id"]
        await server.lookout.notifier.flush()
        updated, pointer = (
            await client.get("/console/api/messages", params={"channel": "#incidents"})
        ).json()
        assert updated["id"] == root["id"]  # the same message, re-rendered in place
        # Typed in the channel, answered in the thread: a line in the channel links to it.
        assert pointer["blocks"][0]["text"].startswith("↪ Answered in [INC-1's thread](#")
        status = next(b for b in updated["blocks"] if b["type"] == "fields")["fields"][0]
        assert status["value"].startswith("Acknowledged by alice at ")
        assert updated["reply_count"] == 2  # the command and Lookout's answer
        thread = (
            await client.get(
                "/console/api/messages", params={"channel": "#incidents", "thread": root["id"]}
            )
        ).json()
        said = [(m["author"], m["blocks"][0]["text"]) for m in thread]
        assert said[0] == ("alice", "/lookout ack INC-1")
        # The real clock runs between the alert and the ack: a second or two on a busy machine.
        assert said[1][0] == "Lookout" and len(said) == 2
        assert re.fullmatch(
            r"✅ INC-1 acknowledged by \*\*alice\*\* — time to acknowledge \d s\.", said[1][1]
        )
        # Typed inside the thread, `show` needs no id.
        shown = await command(client, "show", thread=root["id"])
        assert shown["message"]["thread_id"] == root["id"]
        assert "INC-1" in shown["blocks"][0]["text"]


async def test_errors_and_help_are_ephemeral(server: RunningServer) -> None:
    async with server.client() as client:
        help_answer = await command(client, "/lookout help")
        unknown = await command(client, "lookout xyzzy")
        missing = await command(client, "/lookout ack INC-77")
        messages = (
            await client.get("/console/api/messages", params={"channel": "#incidents"})
        ).json()
    assert help_answer["ephemeral"] and help_answer["message"] is None
    assert unknown["blocks"] == [
        {"type": "text", "text": "I don't know `xyzzy`. Try `help` for the list of commands."}
    ]
    assert missing["text"] == "There is no incident INC-77."
    assert messages == []  # nothing ephemeral is stored


async def test_channel_answers_land_in_the_channel(server: RunningServer) -> None:
    async with server.client() as client:
        answer = await command(client, "/lookout incidents", channel="#ops")
        messages = (await client.get("/console/api/messages", params={"channel": "#ops"})).json()
        channels = (await client.get("/console/api/channels")).json()
    assert answer["text"] == "No open incidents. 🎉"
    assert [m["author"] for m in messages] == ["alice", "Lookout"]
    assert channels == ["#incidents", "#ops"]


async def test_bad_console_requests_get_clear_4xx(server: RunningServer) -> None:
    async with server.client() as client:
        bad_user = await client.post("/console/api/command", json={"text": "help", "user": "<b>"})
        no_text = await client.post("/console/api/command", json={"text": "", "user": "ann"})
        no_thread = await client.post(
            "/console/api/command", json={"text": "help", "user": "ann", "thread": "m-999"}
        )
        bad_thread = await client.get("/console/api/messages", params={"thread": "abc"})
    assert bad_user.status_code == 422 and no_text.status_code == 422
    assert no_thread.status_code == 404 and no_thread.json()["detail"] == "no console message m-999"
    assert bad_thread.status_code == 422


async def test_incidents_api_shape(server: RunningServer) -> None:
    async with server.client() as client:
        await client.post("/webhooks/alertmanager", json=storm_payload(2))
        await command(client, "resolve INC-1 fixed")
        assert (await client.get("/console/api/incidents")).json() == []
        [incident] = (await client.get("/console/api/incidents", params={"status": "all"})).json()
        bad = await client.get("/console/api/incidents", params={"status": "sideways"})
    assert set(incident) >= {
        "id",
        "title",
        "status",
        "severity",
        "service",
        "alert_fingerprints",
        "created_at",
        "acknowledged_at",
        "resolved_at",
    }
    assert incident["status"] == "resolved" and incident["resolved_at"] is not None
    assert len(incident["alert_fingerprints"]) == 2
    assert bad.status_code == 422


async def test_live_stream_pushes_new_incident_messages(server: RunningServer) -> None:
    received: list[dict[str, Any]] = []

    async def listen() -> None:
        async with server.client() as client, client.stream("GET", "/console/api/stream") as stream:
            event = None
            async for line in stream.aiter_lines():
                if line.startswith("event: "):
                    event = line.removeprefix("event: ")
                elif line.startswith("data: ") and event == "message":
                    received.append(json.loads(line.removeprefix("data: ")))
                    return

    listener = asyncio.create_task(listen())
    await asyncio.sleep(0.2)
    async with server.client() as client:
        await client.post("/webhooks/alertmanager", json=storm_payload(1))
    await asyncio.wait_for(listener, timeout=10)
    assert received[0]["incident_id"] == 1 and received[0]["channel"] == "#incidents"


async def test_console_messages_keep_to_the_same_bound_as_slack(server: RunningServer) -> None:
    """The console showed a 1 MB message for a 127,000-character annotation."""
    body = storm_payload(1)
    body["alerts"][0]["labels"]["alertname"] = "Disk_*usage*_`high`"
    body["alerts"][0]["annotations"]["summary"] = "q" * 127_000
    async with server.client() as client:
        assert (await client.post("/webhooks/alertmanager", json=body)).status_code == 200
    [message] = await wait_for_posts(server, 1)
    assert len(json.dumps(message)) < 16_000
    headline = message["blocks"][0]["text"]
    assert "Disk\\_\\*usage\\*\\_\\`high\\`" in headline  # data, marked for the page


def test_forms_and_files_render_for_the_page() -> None:
    form = Form(
        title="Parameters for pg-failover",
        skill="run",
        args=("pg-failover", "--incident", "INC-1", "--dry-run"),
        inputs=(Input("candidate", "candidate", choices=("pg-1", "pg-2")), Input("why", "why")),
        submit="Plan",
    )
    assert render_block(form) == {
        "type": "form",
        "title": "Parameters for pg-failover",
        "command": "run pg-failover --incident INC-1 --dry-run",
        "submit": "Plan",
        "inputs": [
            {
                "name": "candidate",
                "label": "candidate",
                "hint": "",
                "choices": ["pg-1", "pg-2"],
                "value": "",
                "optional": False,
            },
            {
                "name": "why",
                "label": "why",
                "hint": "",
                "choices": [],
                "value": "",
                "optional": False,
            },
        ],
    }
    # What a submitted form runs: filled fields only, each one quoted word.
    assert form_command(form.command, form.names, {"candidate": "pg-1", "why": "it's down"}) == (
        "run pg-failover --incident INC-1 --dry-run candidate=pg-1 'why=it'\"'\"'s down'"
    )
    assert form_command(form.command, form.names, {"candidate": " ", "why": None}) == form.command
    attached = render_block(File("R-1-2.txt", b"line\n"))
    assert attached == {
        "type": "file",
        "name": "R-1-2.txt",
        "size": 5,
        "url": "data:text/plain;base64,bGluZQo=",
    }


async def test_look_alike_characters_pasted_into_the_console_change_nothing(
    server: RunningServer,
) -> None:
    async with server.client() as client:
        await client.post("/webhooks/alertmanager", json=storm_payload(1))
        await wait_for_posts(server, 1)
        for typed in ("/lookout\u00a0ack\u00a0INC\u20111", "\ufeffshow\u3000＃１"):
            answer = await command(client, typed, channel="#incidents")
            assert answer["ephemeral"] is False, answer  # not "I don't know …"
        incident = (await client.get("/console/api/incidents", params={"all": "true"})).json()
    assert [item["status"] for item in incident] == ["acknowledged"]
