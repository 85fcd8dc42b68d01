"""What runs before Slack's acknowledgement, and what is asked once instead of per request."""

from __future__ import annotations

import asyncio

from tests.bot.slack.conftest import SlackWorld, signed_headers, slash_command


async def test_concurrent_commands_ask_auth_test_and_users_info_once(slack: SlackWorld) -> None:
    """auth.test is asked at start, not by the requests; a person's users.info is asked once
    for the commands that arrive together, not once per command."""
    slack.fake.add_user("W0MANY", display_name="Many")
    bodies = [
        slash_command(
            "help", user="W0MANY", trigger=f"t-many-{n}", response_url=slack.fake.response_url()
        )
        for n in range(12)
    ]
    async with slack.client() as client:
        responses = await asyncio.gather(
            *(
                client.post("/slack/events", content=body, headers=signed_headers(body))
                for body in bodies
            )
        )
    assert [response.status_code for response in responses] == [200] * 12
    await slack.fake.wait_until(
        lambda: (
            len(slack.fake.calls_to("chat.postMessage"))
            + len(slack.fake.calls_to("response_url"))
            + len(slack.fake.calls_to("chat.postEphemeral"))
            >= 12
        ),
        within=30,
    )
    assert len(slack.fake.calls_to("auth.test")) == 1
    asked = [call for call in slack.fake.calls_to("users.info") if call.params["user"] == "W0MANY"]
    assert len(asked) == 1
