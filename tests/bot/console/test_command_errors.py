"""Bad input to the console's command API gets one plain sentence, over real HTTP: a too long
command, a name with a space, no command, a body that is not JSON or too large, text that
cannot be encoded; and commands whose words are not what they seem (a bare number in a
thread, a person nobody knows)."""

from __future__ import annotations

import httpx

from tests.bot.console.test_api import command
from tests.bot.console.test_command_words import events, incident, notes, open_incidents, say
from tests.conftest import RunningServer

API = "/console/api/command"


def sentence(response: httpx.Response, status: int) -> str:
    """The answer's `detail`: one line of text, no list, no echo of a long input."""
    assert response.status_code == status, response.text
    detail = response.json()["detail"]
    assert isinstance(detail, str) and "\n" not in detail and len(detail) < 300
    return detail


async def test_a_bad_command_request_gets_one_sentence(server: RunningServer) -> None:
    async with server.client() as client:
        long = await client.post(API, json={"text": "note INC-1 " + "x" * 30_501, "user": "a"})
        spaced = await client.post(API, json={"text": "help", "user": "bob smith"})
        empty = await client.post(API, json={"text": "", "user": "alice"})
        blank = await client.post(API, json={"text": "   ", "user": "alice"})
        missing = await client.post(API, json={"user": "alice"})
        broken = await client.post(
            API, content=b'{"text": "help",', headers={"Content-Type": "application/json"}
        )
        listed = await client.post(API, json=["help"])
        typed = await client.post(API, json={"text": 5, "user": "alice"})
        thread = await client.post(API, json={"text": "help", "thread": "abc"})
    assert sentence(long, 422) == (
        "A command is at most 4,000 characters; this one has 30,512. "
        "Put long text in a file or split it."
    )
    assert sentence(spaced, 422) == (
        "A name is letters, digits and . @ + - _ only, without spaces: try bob.smith."
    )
    assert sentence(empty, 422) == sentence(blank, 422) == "Type a command, e.g. `help`."
    assert sentence(missing, 422) == "Type a command, e.g. `help`."
    assert sentence(broken, 400).startswith("The request body is not valid JSON: ")
    assert "JSON object" in sentence(listed, 400)
    assert sentence(typed, 422) == "The command (`text`) must be text, e.g. `help`."
    assert sentence(thread, 422) == "A thread is a console message id, e.g. m-12."


async def test_a_lone_surrogate_is_replaced_not_a_500(server: RunningServer) -> None:
    await open_incidents(server, 1)
    body = b'{"text": "note INC-1 broken \\ud800 text", "user": "alice"}'
    bad_name = b'{"text": "help", "user": "al\\ud800ice"}'
    async with server.client() as client:
        noted = await client.post(API, content=body, headers={"Content-Type": "application/json"})
        refused = await client.post(
            API, content=bad_name, headers={"Content-Type": "application/json"}
        )
    assert noted.status_code == 200, noted.text
    assert await notes(server, 1) == ["broken \ufffd text"]
    assert sentence(refused, 422).startswith("A name is letters, digits")


async def test_a_body_over_a_mebibyte_is_refused_unread(server: RunningServer) -> None:
    huge = b'{"text": "note INC-1 ' + b"x" * (30 * 1024 * 1024) + b'", "user": "alice"}'
    async with server.client() as client:
        response = await client.post(
            API, content=huge, headers={"Content-Type": "application/json"}
        )
    assert sentence(response, 413) == (
        "The request is larger than 1 MiB; put long text in a file or split it."
    )


async def test_a_bare_number_alone_in_a_thread_is_not_text(server: RunningServer) -> None:
    roots = await open_incidents(server, 3)
    async with server.client() as client:
        for verb in ("resolve", "note", "assign"):
            refused = await say(client, f"{verb} 2", thread=roots[3])
            assert refused == (
                f"In INC-3's thread `{verb}` acts on INC-3; for another incident write "
                f"`INC-2` or `#2`. To write the number itself, quote it: `{verb} '2'`."
            )
        assert (await incident(server, 3)).status == "triggered"
        assert await notes(server, 3) == []
        assert await events(server, 3, "assigned") == []
        # A number with more words is text; INC-n is the other incident.
        noted = await say(client, "note 2 replicas restarted", thread=roots[3])
        assert noted.startswith("📝 Noted in INC-3's timeline")
        resolved = await say(client, "resolve INC-2", thread=roots[3])
        assert resolved.startswith("✅ INC-2 resolved")
        assert (await incident(server, 3)).status == "triggered"


async def test_assign_refuses_a_name_nobody_answers_to(server: RunningServer) -> None:
    await open_incidents(server, 1)
    async with server.client() as client:
        await command(client, "help", user="nobody.known")  # a person Lookout has seen
        typo = await say(client, "assign INC-1 @nobody-known")
        assert typo == (
            "Lookout does not know who `nobody-known` is here; mention them (`@name`) or "
            "say `me`. Did you mean `nobody.known`?"
        )
        stranger = await say(client, "assign INC-1 zzzqqq")
        assert stranger.endswith("or say `me`.")
        assert await events(server, 1, "assigned") == []
        assert (await say(client, "assign INC-1 @nobody.known")).startswith(
            "👤 INC-1 is now **nobody.known**'s"
        )
        assert (await say(client, "assign INC-1 me")).startswith("👤 INC-1 is now **alice**'s")
