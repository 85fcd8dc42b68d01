"""People's ordinary text through the console's command API: text kept as typed, numbers in
an incident's thread, the lifecycle, and every answer in plain words."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx

from storage.models import IncidentRow
from tests.bot.console.test_api import command
from tests.bot.test_webhook import wait_for_posts
from tests.conftest import RunningServer


def alert_payload(service: str, name: str = "HighErrorRate", **labels: str) -> dict[str, Any]:
    return {
        "version": "4",
        "groupKey": f'{{}}:{{service="{service}"}}',
        "status": "firing",
        "receiver": "lookout",
        "alerts": [
            {
                "status": "firing",
                "labels": {
                    "alertname": name,
                    "service": service,
                    "severity": "critical",
                    **labels,
                },
                "annotations": {"summary": f"{name} on {service}"},
                "startsAt": datetime.now(UTC).isoformat(),
                "endsAt": "0001-01-01T00:00:00Z",
            }
        ],
    }


async def open_incidents(server: RunningServer, count: int) -> dict[int, str]:
    """INC-1…INC-`count`, one service each; the console message id of each incident's card."""
    async with server.client() as client:
        for number in range(1, count + 1):
            response = await client.post(
                "/webhooks/alertmanager", json=alert_payload(f"svc-{number}")
            )
            assert response.status_code == 200, response.text
    roots = await wait_for_posts(server, count)
    return {root["incident_id"]: root["id"] for root in roots if root["incident_id"]}


async def incident(server: RunningServer, incident_id: int) -> IncidentRow:
    async with server.lookout.database.unit_of_work() as uow:
        found = await uow.incidents.get(incident_id=incident_id)
    assert found is not None
    return found


async def events(server: RunningServer, incident_id: int, kind: str) -> list[Any]:
    async with server.lookout.database.unit_of_work() as uow:
        found = await uow.incidents.events(incident_id=incident_id)
    return [event for event in found if event.kind == kind]


async def notes(server: RunningServer, incident_id: int) -> list[str]:
    return [event.text for event in await events(server, incident_id, "note")]


async def say(client: httpx.AsyncClient, text: str, thread: str | None = None) -> str:
    answer = await command(client, text, **({"thread": thread} if thread else {}))
    return str(answer["text"])


# 1. Free text is kept exactly as typed ----------------------------------------------------

TYPED = [
    "it's the db",
    "don't restart it, it's warming up",
    'said "roll back" — then waited',
    r"dump copied to C:\temp\x and \\share\dumps",
    "🔥 p99 > 2s & rising ✅",
    "first line\n  second line, indented\n\nafter a blank line",
    "--force was not needed",
    "unbalanced \" quote and ' apostrophe",
]


async def test_free_text_is_kept_exactly_as_typed(server: RunningServer) -> None:
    await open_incidents(server, 5)
    async with server.client() as client:
        answers = [await say(client, f"note INC-5 {typed}") for typed in TYPED]
        assert await notes(server, 5) == TYPED
        assert all(answer.startswith("📝 Noted in INC-5's timeline") for answer in answers)
        assert "unclosed quote" not in " ".join(answers)
        # Options before the text, or at its very end, are options; the rest is text.
        await say(client, "note --incident INC-4 it's the db's pool")
        await say(client, "note it's the cache's turn --incident INC-4")
        assert await notes(server, 4) == ["it's the db's pool", "it's the cache's turn"]
        resolved = await say(client, r"resolve INC-3 rolled back \"v2.3.1\"; don't redeploy")
        assert resolved.startswith("✅ INC-3 resolved by **alice**")
    [event] = await events(server, 3, "resolved")
    assert event.data["note"] == r"rolled back \"v2.3.1\"; don't redeploy"


# 2. A number in a thread is text; another incident is INC-n or #n ------------------------


async def test_in_a_thread_its_incident_is_the_subject(server: RunningServer) -> None:
    roots = await open_incidents(server, 17)
    async with server.client() as client:
        answer = await say(client, "resolve 2 replicas restarted", thread=roots[8])
        assert answer.startswith("✅ INC-8 resolved")
        assert (await incident(server, 8)).status == "resolved"
        assert (await incident(server, 2)).status == "triggered"
        [event] = await events(server, 8, "resolved")
        assert event.data["note"] == "2 replicas restarted"

        answer = await say(client, "note 10 pods restarted on node-3", thread=roots[17])
        assert answer.startswith("📝 Noted in INC-17's timeline")
        assert await notes(server, 17) == ["10 pods restarted on node-3"]
        assert await notes(server, 10) == []

        answer = await say(
            client, "resolve restarted the exporter; throttling gone", thread=roots[17]
        )
        assert answer.startswith("✅ INC-17 resolved")
        [event] = await events(server, 17, "resolved")
        assert event.data["note"] == "restarted the exporter; throttling gone"

        # Another incident, from a thread: INC-n or #n, and the answer names it.
        answer = await say(client, "note #10 seen from INC-3's side", thread=roots[3])
        assert answer.startswith("📝 Noted in INC-10's timeline")
        answer = await say(client, "note INC-10 and again", thread=roots[3])
        assert answer.startswith("📝 Noted in INC-10's timeline")
        assert await notes(server, 10) == ["seen from INC-3's side", "and again"]
        assert await notes(server, 3) == []
        assert (await say(client, "ack #12", thread=roots[3])).startswith("✅ INC-12 acknowledged")
        refused = await say(client, "ack 2", thread=roots[3])
        assert refused == (
            "In INC-3's thread `ack` acts on INC-3; for another incident write `INC-2` or `#2`."
        )
        # The same hint when more words follow the number.
        for verb, rest in (("severity", "warning"), ("status", "mitigated"), ("snooze", "2h")):
            refused = await say(client, f"{verb} 2 {rest}", thread=roots[3])
            assert refused == (
                f"In INC-3's thread `{verb}` acts on INC-3; for another incident write "
                "`INC-2` or `#2`."
            )
        assert (await incident(server, 2)).status == "triggered"
        assert (await incident(server, 2)).severity == "critical"

        # Outside threads, 42, #42 and INC-42 are ids.
        assert (await say(client, "ack 4")).startswith("✅ INC-4 acknowledged")
        assert (await say(client, "ack #5")).startswith("✅ INC-5 acknowledged")
        assert (await say(client, "ack INC-6")).startswith("✅ INC-6 acknowledged")
        outside = await say(client, "resolve restarted the exporter")
        assert outside == "Which incident? Give its id, e.g. `INC-42`, or ask in its thread."

        # Every incident command takes --incident.
        for text in (
            "show --incident INC-7",
            "timeline --incident INC-7",
            "ack --incident INC-7",
            "status --incident INC-7 investigating",
            "correlate --incident INC-7",
            "postmortem --incident INC-7",
        ):
            shown = await command(client, text)
            assert "INC-7" in shown["text"], (text, shown["text"])
            assert shown["message"]["thread_id"] == roots[7], text
        assert (await incident(server, 7)).status == "investigating"
        assert "Name the incident once" in await say(client, "ack INC-7 --incident INC-8")


# 3. Rules and words ------------------------------------------------------------------------


async def test_the_lifecycle_refuses_what_the_readme_refuses(server: RunningServer) -> None:
    await open_incidents(server, 1)
    async with server.client() as client:

        async def refused(text: str, status: str, *expected: str) -> None:
            answer = await say(client, text)
            for part in expected:
                assert part in answer, (text, answer)
            assert (await incident(server, 1)).status == status, text

        await refused(
            "status INC-1 investigating",
            "triggered",
            "INC-1 is triggered; it cannot become investigating",
            "Next: `ack INC-1` or `resolve INC-1`.",
        )
        await refused("status INC-1 mitigated", "triggered", "cannot become mitigated")
        await say(client, "ack INC-1")
        await refused("ack INC-1", "acknowledged", "already acknowledged")
        await refused("status INC-1 mitigated", "acknowledged", "cannot become mitigated")
        assert "now **investigating**" in await say(client, "status INC-1 investigating")
        await refused("status INC-1 investigating", "investigating", "already investigating")
        assert "now **mitigated**" in await say(client, "status INC-1 mitigated")
        await refused(
            "status INC-1 investigating",
            "mitigated",
            "INC-1 is mitigated; it cannot become investigating",
            "Next: `resolve INC-1`.",
        )
        await refused("ack INC-1", "mitigated", "already acknowledged")
        await say(client, "resolve INC-1")
        await refused("status INC-1 investigating", "resolved", "cannot become investigating")
        await refused("status INC-1 mitigated", "resolved", "cannot become mitigated")
        await refused("ack INC-1", "resolved", "already resolved")
        await refused("resolve INC-1", "resolved", "already resolved")


async def test_typos_get_did_you_mean_and_errors_are_plain(server: RunningServer) -> None:
    await open_incidents(server, 1)
    async with server.client() as client:
        cases = {
            "status INC-1 mitgated": "Did you mean `mitigated`?",
            "incidents --severity critcal": "did you mean critical?",
            "incidents --servce svc-1": "Did you mean `--service`?",
            "help ackk": "Did you mean `ack`?",
            "health --against 1dd": "Did you mean `1d`?",
            "similar INC-1 --limit 0": "`--limit` takes a whole number from 1 to 10.",
            "similar INC-1 --limit many": "`--limit` takes a whole number from 1 to 10.",
            "topology svc-1 --hops 99": "`--hops` takes a whole number from 1 to 6.",
            "feedback upp x": "`action` is one of up, down, fixed, stats, not `upp`.",
        }
        for text, expected in cases.items():
            answer = await command(client, text)
            assert answer["ephemeral"], text
            assert expected in answer["text"], (text, answer["text"])
            for raw in ("Input should", "Value error", "validation error", "pydantic"):
                assert raw not in answer["text"], (text, answer["text"])
        helped = await command(client, "help note")
        assert "`/lookout note [incident] <text…>`" in [
            block.get("text") for block in helped["blocks"]
        ]
        listed = await command(client, "help")
        assert "kept exactly as typed" in str(listed["blocks"])


async def test_service_filter_and_counts(server: RunningServer) -> None:
    async with server.client() as client:
        # checkout fires inside payments' incident (the same host), which is filed under one.
        for service in ("payments", "checkout"):
            response = await client.post(
                "/webhooks/alertmanager", json=alert_payload(service, host="node-3")
            )
            assert response.status_code == 200
        await wait_for_posts(server, 1)
        only = await incident(server, 1)
        assert {only.service} <= {"payments", "checkout"}
        for service in ("payments", "checkout"):
            answer = await command(client, f"incidents --service {service}")
            assert answer["blocks"][0]["text"] == f"**1 open incident ({service})**", service
        assert (await say(client, "incidents --service search")) == "No open incidents (search). 🎉"
        assert (await command(client, "incidents"))["blocks"][0]["text"] == "**1 open incident**"
