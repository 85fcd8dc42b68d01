"""`audit` over Slack with two projects: signed slash commands through Bolt, answers on the
fake Slack's response_url; a payments admin never sees platform's entries."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from tests.bot.projects.conftest import PROJECTS
from tests.bot.slack.conftest import SlackWorld, slack_command_answer, slack_world, slash_command
from tests.bot.test_webhook import storm_payload


async def test_audit_over_slack_shows_only_the_askers_projects(tmp_path: Path) -> None:
    async with slack_world(tmp_path, yaml.safe_dump(PROJECTS)) as slack:
        async with slack.client() as client:
            for service in ("checkout", "postgres-primary"):
                response = await client.post(
                    "/webhooks/alertmanager", json=storm_payload(1, service)
                )
                assert response.status_code == 200, response.text
        await slack.server.lookout.notifier.flush()
        for text, user, channel in (
            ("ack INC-1", "U0PAYDEV", "C0PAY"),
            ("ack INC-2", "U0PLAT", "C0PLAT"),
        ):
            body = slash_command(
                text,
                user=user,
                channel=channel,
                trigger=f"t-{user}",
                response_url=slack.fake.response_url(),
            )
            assert (await slack.send(body)).status_code == 200
        await slack.fake.wait_until(lambda: len(acknowledged(slack)) == 2)
        payments = await slack_command_answer(slack, "audit", user="U0PAYLEAD", channel="C0PAY")
        platform = await slack_command_answer(
            slack, "audit --since 1d", user="U0PLATLEAD", channel="C0PLAT"
        )
        viewer = await slack_command_answer(slack, "audit", user="U0SOMEONE", channel="C0PAY")
    assert payments["response_type"] == "ephemeral"
    shown = json.dumps(payments).lower()
    assert "u0paydev" in shown and "inc-1" in shown and "alertmanager" in shown
    assert "u0plat" not in shown and "inc-2" not in shown
    shown = json.dumps(platform).lower()
    assert "u0plat" in shown and "inc-2" in shown
    assert "u0paydev" not in shown and "inc-1" not in shown
    assert "needs the admin role in payments" in viewer["text"]


def acknowledged(slack: SlackWorld) -> list[str]:
    """The thread posts saying an incident was acknowledged."""
    posts = [str(call.params.get("text")) for call in slack.fake.calls_to("chat.postMessage")]
    return [text for text in posts if "acknowledged by" in text]
