"""Projects through the real Bolt stack: a channel's project, roles by Slack user group, and
another project's incident neither seen nor touched."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tests.bot.projects.conftest import PROJECTS
from tests.bot.slack.conftest import slack_world, slash_command
from tests.bot.slack.test_slack_adapter import ingest
from tests.bot.test_webhook import storm_payload


def with_groups() -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load(yaml.safe_dump(PROJECTS))
    config["projects"][0]["groups"] = {"payments-oncall": "responder"}
    return config


async def test_a_user_groups_role_and_another_projects_incident(tmp_path: Path) -> None:
    async with slack_world(tmp_path, yaml.safe_dump(with_groups())) as slack:
        slack.fake.usergroups = [
            {"id": "S0PAYOC", "handle": "payments-oncall", "users": ["U0GROUPIE"]},
            {"id": "S0OTHER", "handle": "everyone", "users": ["U0GROUPIE", "U0NOBODY"]},
        ]
        await ingest(slack, storm_payload(1, "checkout"))
        await ingest(slack, storm_payload(1, "postgres-primary"))
        posted = slack.fake.calls_to("chat.postMessage")
        assert sorted(call.params["channel"] for call in posted) == ["C0PAY", "C0PLAT"]

        def answers(text: str) -> list[str]:
            return [
                str(call.params.get("text", ""))
                for call in slack.fake.calls
                if text in str(call.params.get("text", ""))
            ]

        # In the user group that payments makes responders: the ack goes through.
        await slack.send(
            slash_command(
                "ack INC-1",
                user="U0GROUPIE",
                channel="C0PAY",
                trigger="t-1",
                response_url=slack.fake.response_url(),
            )
        )
        await slack.fake.wait_until(lambda: bool(answers("acknowledged by")))
        # Not in it: everyone is a payments viewer, so the ack is refused with the reason.
        await slack.send(
            slash_command(
                "ack INC-1",
                user="U0NOBODY",
                channel="C0PAY",
                trigger="t-2",
                response_url=slack.fake.response_url(),
            )
        )
        await slack.fake.wait_until(lambda: bool(answers("needs the responder role in payments")))
        # Platform's incident does not exist for a payments responder, in any channel.
        for number, channel in enumerate(("C0PAY", "C0PLAT")):
            await slack.send(
                slash_command(
                    "resolve INC-2 fixed",
                    user="U0GROUPIE",
                    channel=channel,
                    trigger=f"t-r{number}",
                    response_url=slack.fake.response_url(),
                )
            )
        await slack.fake.wait_until(
            lambda: (
                len(answers("There is no incident INC-2."))
                + len(answers("not a member of the platform project"))
                == 2
            )
        )
        async with slack.server.lookout.database.unit_of_work() as uow:
            row = await uow.incidents.get(incident_id=2)
        assert row is not None and row.status == "triggered"
        # usergroups.list is asked once, not once per command.
        assert len(slack.fake.calls_to("usergroups.list")) == 1


async def test_whoami_and_role_through_slack(tmp_path: Path) -> None:
    async with slack_world(tmp_path, yaml.safe_dump(PROJECTS)) as slack:
        for number, (user, text) in enumerate(
            (
                ("U0PAYLEAD", "whoami"),
                ("U0PAYLEAD", "role <@U0NEW|new> responder"),
                ("U0PAYDEV", "role <@U0NEW|new> admin"),
            )
        ):
            await slack.send(
                slash_command(
                    text,
                    user=user,
                    channel="C0PAY",
                    trigger=f"t-{number}",
                    response_url=slack.fake.response_url(),
                )
            )

        def said() -> str:
            return " ".join(
                str(call.params.get("text", "")) + str(call.params.get("blocks", ""))
                for call in slack.fake.calls
            )

        await slack.fake.wait_until(
            lambda: (
                "payments (admin)" in said()
                and "is now responder in payments" in said()
                and "needs the admin role in payments" in said()
            )
        )
        async with slack.server.lookout.database.unit_of_work() as uow:
            granted = await uow.project_roles.of_user(platform="slack", platform_user_id="U0NEW")
        assert granted == {"payments": "responder"}
