"""One table of invocations through the console, Slack and Teams: the same answers, rendered
three ways, and placed alike (ephemeral to the asker, incident answers in the incident's
thread). Each platform runs against its own fresh Lookout seeded with the same alerts."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from bot.settings import Settings
from tests.bot.slack.conftest import SlackWorld, slash_command
from tests.bot.slack.fake_slack import Call
from tests.bot.teams.conftest import CHANNEL, TeamsWorld
from tests.bot.test_webhook import storm_payload
from tests.conftest import RunningServer, database_mode, template_copy

SEED = [storm_payload(2, "checkout"), storm_payload(1, "search"), storm_payload(1, "catalog")]

# (command, is it about an incident, does the answer go to the asker alone)
INVOCATIONS = [
    ("help", None, True),
    ("help ack", None, True),
    ("incidents", None, False),
    ("show INC-1", 1, False),
    ("similar INC-1", 1, False),
    ("ack INC-2", 2, False),
    ("resolve INC-3 rolled back the deploy", 3, False),
    ("ack INC-2", None, True),
    ("frobnicate", None, True),
    ("show INC-99", None, True),
]


@pytest.fixture
def settings(request: pytest.FixtureRequest, settings: Settings) -> Iterator[Settings]:
    """The console's Lookout on a database of its own: in the PostgreSQL pass the chat
    platform's Lookout has the test's database, so the console gets a second copy."""
    if database_mode(request.config) != "postgresql":
        yield settings
        return
    with template_copy(request.getfixturevalue("postgres_template")) as url:
        yield settings.model_copy(update={"database_url": url})


@dataclass
class Answer:
    text: str  # everything the platform rendered, as plain words
    private: bool  # only the asker sees it (Teams has no such thing in channels)
    thread_of: int | None  # the incident whose thread it landed in


def words(text: str) -> str:
    """Rendering differences out: markdown marks, user names, clock times, whitespace. A
    time travels as a span (console), Slack's `<!date^…|…>` or Adaptive Cards' DATE/TIME:
    each becomes TIME."""
    text = re.sub("\ue100[^\ue101]*\ue101", "TIME", text)
    text = re.sub(r"<!date\^[^|>]*\|[^>]*>", "TIME", text)
    text = re.sub(r"\{\{DATE\([^}]*\)\}\} \{\{TIME\([^}]*\)\}\}", "TIME", text)
    text = re.sub(r"\{\{(?:DATE|TIME)\([^}]*\)\}\}", "TIME", text)
    text = re.sub(r"(^|\n)\s*[•-] ", r"\1", text)  # "• " bullets, or Markdown's "- "
    text = re.sub(r"[*_`]", "", text)
    text = re.sub(r"\b(alice|w111|Dave Taniguchi)\b", "<user>", text)
    text = re.sub(r"\b\d\d:\d\d:\d\d\b", "HH:MM:SS", text)
    text = re.sub(r"\b\d{4}-\d\d-\d\d \d\d:\d\d\b", "DATE HH:MM", text)
    text = re.sub(r"\b\d+ (s|min|h)\b", "N \\1", text)
    return " ".join(text.split())


def console_atoms(blocks: list[dict[str, Any]]) -> list[str]:
    """Every piece of text a console answer holds: the answer's content, platform-free."""
    atoms: list[str] = []
    for block in blocks:
        kind = block["type"]
        if kind in ("text", "context"):
            atoms.extend(line for line in block["text"].split("\n") if line.strip())
        elif kind == "fields":
            atoms.extend(part for f in block["fields"] for part in (f["label"], f["value"]))
        elif kind == "table":
            atoms.extend([*block["columns"], *(cell for row in block["rows"] for cell in row)])
        elif kind == "actions":
            atoms.extend(button["label"] for button in block["buttons"])
    return [words(atom) for atom in atoms if words(atom)]


def strings(node: Any, keys: tuple[str, ...]) -> list[str]:
    found: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key in keys and isinstance(value, str):
                found.append(value)
            else:
                found.extend(strings(value, keys))
    elif isinstance(node, list):
        for item in node:
            found.extend(strings(item, keys))
    return found


async def seed(client: httpx.AsyncClient) -> None:
    for body in SEED:
        assert (await client.post("/webhooks/alertmanager", json=body)).status_code == 200


async def through_console(server: RunningServer) -> list[tuple[list[str], Answer]]:
    results = []
    async with server.client() as client:
        await seed(client)
        await server.lookout.notifier.flush()
        roots = (await client.get("/console/api/messages", params={"channel": "#incidents"})).json()
        root_of = {m["id"]: m["incident_id"] for m in roots}
        for command, _, _ in INVOCATIONS:
            response = await client.post(
                "/console/api/command", json={"text": f"/lookout {command}", "user": "alice"}
            )
            answer = response.json()
            thread = answer["message"]["thread_id"] if answer["message"] else None
            text = words(" ".join(console_atoms(answer["blocks"])))
            results.append(
                (
                    console_atoms(answer["blocks"]),
                    Answer(text, answer["ephemeral"], root_of.get(thread)),
                )
            )
    return results


def pointer(text: str) -> bool:
    """The line left where a command was asked when its answer went to a thread."""
    return "Answered in" in text


def answers_in(world: SlackWorld) -> list[Call]:
    """Lookout's answers so far: messages after the three incident posts, and hook calls
    (not the pointers left where a command was asked)."""
    calls = [
        call
        for call in world.fake.calls_to("chat.postMessage")[3:]
        if not pointer(call.params.get("text", ""))
    ] + world.fake.calls_to("response_url")
    return sorted(calls, key=lambda call: call.at)


async def through_slack(world: SlackWorld) -> list[Answer]:
    async with world.client() as client:
        await seed(client)
    await world.server.lookout.notifier.flush()
    root_of = {f"1700000000.{n:06d}": n for n in range(1, 4)}  # the fake's ts, in post order
    answers = []
    for number, (command, _, _) in enumerate(INVOCATIONS):
        before = answers_in(world)
        body = slash_command(
            command, trigger=f"contract-{number}", response_url=world.fake.response_url()
        )
        assert (await world.send(body)).status_code == 200
        await world.fake.wait_until(lambda: len(answers_in(world)) > len(before))  # noqa: B023
        call = answers_in(world)[-1]
        params = call.params
        # Slack shows &lt; as <: compare what people read, not the escaped wire text.
        rendered = words(html.unescape(" ".join(strings(params.get("blocks"), ("text",)))))
        answers.append(
            Answer(
                rendered,
                call.method == "response_url" and params.get("response_type") == "ephemeral",
                root_of.get(str(params.get("thread_ts"))),
            )
        )
    return answers


async def through_teams(world: TeamsWorld) -> list[Answer]:
    running = await world.start()
    assert (
        await world.send(world.activity("07_conversationUpdate_channel.json"))
    ).status_code == 200
    async with running.client() as client:
        await seed(client)
    await world.flush()
    cards = world.connector.delivered("post")
    root_of = {card.answered_id: n for n, card in enumerate(cards, start=1)}
    answers = []
    for number, (command, _, _) in enumerate(INVOCATIONS):
        before = len(world.connector.delivered())
        message = world.in_channel(CHANNEL, command)
        message["id"] = f"17000000000{number:02d}"  # each message is new, not a redelivery
        assert (await world.send(message)).status_code == 200
        # the answer: a reply to the @mention, or a post into an incident card's thread
        [reply] = [
            r
            for r in world.connector.delivered()[before:]
            if r.kind in ("reply", "post") and not any(pointer(t) for t in r.texts)
        ]
        thread = reply.conversation_id.partition(";messageid=")[2]
        rendered = words(" ".join(strings(reply.body, ("text", "title", "value"))))
        answers.append(Answer(rendered, False, root_of.get(thread)))
    return answers


def check(platform: str, expected: list[tuple[list[str], Answer]], answers: list[Answer]) -> None:
    for (command, incident, private), (atoms, console), answer in zip(
        INVOCATIONS, expected, answers, strict=True
    ):
        missing = [atom for atom in atoms if atom not in answer.text]
        assert not missing, (platform, command, missing, answer.text)
        assert console.private is private, (command, "console")
        if platform == "slack":  # Teams channels have no private answers
            assert answer.private is private, (command, platform)
        assert (console.thread_of, answer.thread_of) == (incident, incident), (command, platform)


async def test_console_and_slack_give_the_same_answers(
    server: RunningServer, slack: SlackWorld
) -> None:
    check("slack", await through_console(server), await through_slack(slack))


async def test_console_and_teams_give_the_same_answers(
    server: RunningServer, teams: TeamsWorld
) -> None:
    check("teams", await through_console(server), await through_teams(teams))
