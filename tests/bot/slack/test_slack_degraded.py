"""Slack's Web API down or slow: a slash command still answers within
LOOKOUT_SLACK_TIMEOUT_SECONDS (in the channel, or through its response_url when the Web API
cannot post), and says that Slack could not name the people in it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bot.slack.adapter import SlackAdapter
from tests.bot.slack.conftest import CONFIG, SlackWorld, slack_world, slash_command
from tests.conftest import free_port


def answer_text(call: Any) -> str:
    return json.dumps(call.params.get("text"), ensure_ascii=False)


async def command(world: SlackWorld, text: str, trigger: str, *, where: str) -> str:
    """Send a slash command; the text of its answer, posted by `where` (a method)."""
    body = slash_command(text, trigger=trigger, response_url=world.fake.response_url(trigger))
    assert (await world.send(body)).status_code == 200
    [answer] = await world.fake.wait_for(where, within=20)
    return answer_text(answer)


async def test_a_slow_users_info_costs_one_timeout_and_is_said(tmp_path: Path) -> None:
    async with slack_world(tmp_path, CONFIG, slack_timeout_seconds=1) as world:
        world.fake.delays["users.info"] = 5
        answer = await command(world, "incidents", "t-slow", where="chat.postMessage")
        assert answer.startswith('"No open incidents. 🎉\\n'), answer
        assert (
            "Slack did not answer users.info within 1 s, so names and workspaces are missing "
            "from this answer (people are named as Slack sent them)."
        ) in answer
        # Asked once: a call that timed out is not tried again.
        assert len(world.fake.calls_to("users.info")) == 1


async def test_a_web_api_that_refuses_connections_is_said(tmp_path: Path) -> None:
    async with slack_world(tmp_path, CONFIG, slack_timeout_seconds=1) as world:
        [adapter] = world.server.lookout.adapters
        assert isinstance(adapter, SlackAdapter)
        # Bolt's own client (auth.test) still reaches Slack; Lookout's calls find it down.
        adapter.platform.client.base_url = f"http://127.0.0.1:{free_port()}/api/"
        answer = await command(world, "incidents", "t-down", where="response_url")
        assert answer.startswith('"No open incidents. 🎉\\n'), answer
        assert (
            "Slack's Web API is not reachable, so names and workspaces are missing from "
            "this answer (people are named as Slack sent them)."
        ) in answer


async def test_an_answering_slack_adds_no_such_sentence(tmp_path: Path) -> None:
    async with slack_world(tmp_path, CONFIG, slack_timeout_seconds=1) as world:
        answer = await command(world, "incidents", "t-fine", where="chat.postMessage")
        assert answer == '"No open incidents. 🎉"', answer
