"""What Slack really sends, through the real Bolt stack with signed requests: escaped text,
markup in arguments, edited messages, bots and workflows, Slack Connect people, names,
invisible characters."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from storage.models import IncidentRow
from tests.bot.slack.conftest import (
    CONFIG,
    SlackWorld,
    block_action,
    slack_world,
    slash_command,
)
from tests.bot.test_webhook import storm_payload
from tests.conftest import FIXTURES

ROOT_TS = "1700000000.000001"  # the fake's first ts: the first incident's card


async def ingest(world: SlackWorld, *bodies: dict[str, Any]) -> None:
    async with world.client() as client:
        for body in bodies:
            response = await client.post("/webhooks/alertmanager", json=body)
            assert response.status_code == 200, response.text
    await world.server.lookout.notifier.flush()


def mention(
    text: str,
    *,
    event_id: str,
    ts: str,
    channel: str = "C0INCIDENTS",
    thread_ts: str | None = ROOT_TS,
    user: str | None = "W111",
    **fields: Any,
) -> bytes:
    """An app_mention event_callback as Slack sends it (Bolt's recorded one, our values)."""
    body: dict[str, Any] = json.loads(
        (FIXTURES / "slack" / "bolt_app_mention_event_callback.json").read_text()
    )
    body["event_id"] = event_id
    event = body["event"]
    event.update(text=text, channel=channel, ts=ts, event_ts=ts, **fields)
    if thread_ts:
        event["thread_ts"] = thread_ts
    if user is None:
        event.pop("user", None)
    else:
        event["user"] = user
    return json.dumps(body).encode()


async def send_event(world: SlackWorld, body: bytes, **headers: str) -> None:
    response = await world.send(body, content_type="application/json", headers=headers)
    assert response.status_code == 200


async def incident(world: SlackWorld, incident_id: int = 1) -> IncidentRow:
    async with world.server.lookout.database.unit_of_work() as uow:
        found = await uow.incidents.get(incident_id=incident_id)
    assert found is not None
    return found


async def notes(world: SlackWorld, incident_id: int = 1) -> list[str]:
    async with world.server.lookout.database.unit_of_work() as uow:
        events = await uow.incidents.events(incident_id=incident_id)
    return [event.text for event in events if event.kind == "note"]


async def settle(world: SlackWorld, seconds: float = 0.5) -> None:
    """Lazy listeners run after the ack; give a request that should do nothing its chance."""
    await asyncio.sleep(seconds)


def thread_answers(world: SlackWorld) -> list[Any]:
    return [c for c in world.fake.calls_to("chat.postMessage") if c.params.get("thread_ts")]


# 1. Escaping ------------------------------------------------------------------------------


async def test_escaped_text_is_stored_as_typed_and_escaped_once_on_the_way_out(
    slack: SlackWorld,
) -> None:
    await ingest(slack, storm_payload(1, "checkout"))
    body = slash_command(
        "note INC-1 p99 &gt; 2s &amp; rising",
        trigger="t-esc",
        response_url=slack.fake.response_url(),
    )
    await slack.send(body)
    await slack.fake.wait_until(lambda: len(thread_answers(slack)) == 1)
    [answer] = thread_answers(slack)
    assert await notes(slack) == ["p99 > 2s & rising"]
    shown = json.dumps(answer.params, ensure_ascii=False)
    assert "p99 &gt; 2s &amp; rising" in answer.params["text"]
    assert "&amp;gt;" not in shown and "&amp;amp;" not in shown
    # The same through a mention, with angle brackets typed as text.
    await send_event(
        slack, mention("<@UBOT> note INC-1 &lt;none&gt; pods", event_id="Ev01", ts="1700000999.1")
    )
    await slack.fake.wait_until(lambda: len(thread_answers(slack)) == 2)
    assert await notes(slack) == ["p99 > 2s & rising", "<none> pods"]


# 2. Markup in arguments --------------------------------------------------------------------


async def test_other_peoples_mentions_links_and_channels_are_kept_readable(
    slack: SlackWorld,
) -> None:
    slack.fake.add_user("U0BOB", display_name="Bob Stone", real_name="Robert Stone")
    await ingest(slack, storm_payload(1, "checkout"))
    text = (
        "<@UBOT> note INC-1 handing over to <@U0BOB>, see "
        "<https://runbooks.example.com/db?step=2&amp;x=1|the runbook> in <#C0DB|db-oncall>"
    )
    await send_event(slack, mention(text, event_id="Ev02", ts="1700000999.2"))
    await slack.fake.wait_until(lambda: len(thread_answers(slack)) == 1)
    assert await notes(slack) == [
        "handing over to @Bob Stone, see the runbook "
        "(https://runbooks.example.com/db?step=2&x=1) in #db-oncall"
    ]


# 3. Edits ------------------------------------------------------------------------------------


async def test_an_edited_mention_never_repeats_an_action(slack: SlackWorld) -> None:
    await ingest(slack, storm_payload(1, "checkout"))
    ts = "1700000999.000300"
    await send_event(slack, mention("<@UBOT> note INC-1 db failover", event_id="Ev031", ts=ts))
    await slack.fake.wait_until(lambda: len(thread_answers(slack)) == 1)
    edited = {"user": "W111", "ts": "1700001005.000000"}
    edit = mention("<@UBOT> note INC-1 db failover done", event_id="Ev032", ts=ts, edited=edited)
    await send_event(slack, edit)
    await send_event(slack, edit, **{"x-slack-retry-num": "1"})  # and Slack retries the edit
    await settle(slack)
    assert await notes(slack) == ["db failover"]
    assert len(thread_answers(slack)) == 1
    # An edit of a command that did nothing (a typo) is its first run, once.
    typo_ts = "1700000999.000400"
    await send_event(
        slack, mention("<@UBOT> nte INC-1 cache flushed", event_id="Ev041", ts=typo_ts)
    )
    await slack.fake.wait_for("chat.postEphemeral")
    fixed = mention("<@UBOT> note INC-1 cache flushed", event_id="Ev042", ts=typo_ts, edited=edited)
    await send_event(slack, fixed)
    await slack.fake.wait_until(lambda: len(thread_answers(slack)) == 2)
    await send_event(slack, mention("<@UBOT> note INC-1 again", event_id="Ev043", ts=typo_ts))
    await settle(slack)
    assert await notes(slack) == ["db failover", "cache flushed"]


# 4. Bots and workflows -----------------------------------------------------------------------

WORKFLOW: dict[str, Any] = {
    "bot_id": "B0WORKFLOW",
    "subtype": "bot_message",
    "bot_profile": {"id": "B0WORKFLOW", "name": "Deploy workflow", "app_id": "A0WF"},
}


async def test_bots_and_workflows_do_not_act_unless_configured(slack: SlackWorld) -> None:
    await ingest(slack, storm_payload(1, "checkout"))
    for number, (user, extra) in enumerate(
        [
            (None, WORKFLOW),  # a workflow: no user at all
            ("U0BOTUSER", WORKFLOW),  # a bot user: a user id, and its bot_id
            ("", {}),  # an empty identity
        ]
    ):
        await send_event(
            slack,
            mention(
                "<@UBOT> ack INC-1",
                event_id=f"Ev05{number}",
                ts=f"17000009.{number}",
                user=user,
                **extra,
            ),
        )
    await settle(slack)
    assert (await incident(slack)).status == "triggered"
    assert thread_answers(slack) == [] and slack.fake.calls_to("chat.postEphemeral") == []
    async with slack.server.lookout.database.unit_of_work() as uow:
        assert await uow.audit.recent(action="ack") == []


async def test_a_configured_bot_acts_as_itself(tmp_path: Path) -> None:
    config = CONFIG + "access:\n  bots: [B0WORKFLOW]\n"
    async with slack_world(tmp_path, config) as world:
        await ingest(world, storm_payload(1, "checkout"))
        await send_event(
            world,
            mention("<@UBOT> ack INC-1", event_id="Ev06", ts="17000009.6", user=None, **WORKFLOW),
        )
        await world.fake.wait_until(lambda: len(thread_answers(world)) == 1)
        found = await incident(world)
        assert (found.status, found.acknowledged_by) == ("acknowledged", "Deploy workflow")
        async with world.server.lookout.database.unit_of_work() as uow:
            [entry] = await uow.audit.recent(action="ack")
        assert (entry.user_id, entry.user_name) == ("B0WORKFLOW", "Deploy workflow")


# 5. People from other organisations -------------------------------------------------------


async def test_people_from_another_workspace_can_look_but_not_act(slack: SlackWorld) -> None:
    slack.fake.add_user("W0PARTNER", display_name="Pat Partner", team="T0PARTNER")
    await ingest(slack, storm_payload(1, "checkout"))
    # a mention in a Slack Connect channel: the event names the person's own team
    await send_event(
        slack,
        mention(
            "<@UBOT> resolve INC-1 fixed on our side",
            event_id="Ev07",
            ts="17000009.7",
            user="W0PARTNER",
            user_team="T0PARTNER",
            source_team="T0PARTNER",
        ),
    )
    [private] = await slack.fake.wait_for("chat.postEphemeral")
    assert "other workspaces or organisations can only look here" in private.params["text"]
    # a button click
    click = block_action(
        "ack INC-1",
        message_ts=ROOT_TS,
        channel="C0INCIDENTS",
        user="W0PARTNER",
        team="T0PARTNER",
        trigger="t-partner-click",
        response_url=slack.fake.response_url("click"),
    )
    await slack.send(click)
    # a slash command: the payload's team is the channel's, users.info says who they are
    command = slash_command(
        "ack INC-1",
        user="W0PARTNER",
        trigger="t-partner-command",
        response_url=slack.fake.response_url("command"),
    )
    await slack.send(command)
    hooks = await slack.fake.wait_for("response_url", 2)
    assert all("can only look here" in hook.params["text"] for hook in hooks)
    assert (await incident(slack)).status == "triggered"
    # Looking is fine.
    look = slash_command(
        "show INC-1",
        user="W0PARTNER",
        trigger="t-partner-show",
        response_url=slack.fake.response_url(),
    )
    await slack.send(look)
    await slack.fake.wait_until(lambda: len(thread_answers(slack)) == 1)
    async with slack.server.lookout.database.unit_of_work() as uow:
        user = await uow.users.get(platform="slack", platform_user_id="W0PARTNER")
        entries = await uow.audit.recent(limit=10)
    assert user is not None and (user.display_name, user.role) == ("Pat Partner", "viewer")
    outcomes = sorted(entry.outcome for entry in entries if entry.user_id == "W0PARTNER")
    assert outcomes == ["denied", "denied", "denied", "ok"]


async def test_a_trusted_workspace_acts_like_ours(tmp_path: Path) -> None:
    config = CONFIG + "access:\n  trusted_teams: [T0PARTNER]\n"
    async with slack_world(tmp_path, config) as world:
        world.fake.add_user("W0PARTNER", display_name="Pat Partner", team="T0PARTNER")
        await ingest(world, storm_payload(1, "checkout"))
        await send_event(
            world,
            mention(
                "<@UBOT> ack INC-1",
                event_id="Ev08",
                ts="17000009.8",
                user="W0PARTNER",
                user_team="T0PARTNER",
            ),
        )
        await world.fake.wait_until(lambda: len(thread_answers(world)) == 1)
        found = await incident(world)
        assert (found.status, found.acknowledged_by) == ("acknowledged", "Pat Partner")


async def test_people_of_the_same_enterprise_grid_org_are_not_outsiders(
    slack: SlackWorld,
) -> None:
    slack.fake.enterprise = "E111"
    slack.fake.add_user("W0SISTER", real_name="Sam Sister", team="T0SISTER", enterprise="E111")
    await ingest(slack, storm_payload(1, "checkout"))
    await send_event(
        slack,
        mention(
            "<@UBOT> ack INC-1",
            event_id="Ev081",
            ts="17000009.81",
            user="W0SISTER",
            user_team="T0SISTER",
        ),
    )
    await slack.fake.wait_until(lambda: len(thread_answers(slack)) == 1)
    assert (await incident(slack)).acknowledged_by == "Sam Sister"


# 6. Names --------------------------------------------------------------------------------------


async def test_names_come_from_users_info_and_never_become_an_id(slack: SlackWorld) -> None:
    slack.fake.add_user("W111", display_name="", real_name="Wendy Example", name="wendy")
    await ingest(slack, storm_payload(1, "checkout"))
    await send_event(slack, mention("<@UBOT> ack INC-1", event_id="Ev09", ts="17000009.9"))
    await slack.fake.wait_until(lambda: len(thread_answers(slack)) == 1)
    assert "acknowledged by *Wendy Example*" in thread_answers(slack)[0].params["text"]
    [update] = await slack.fake.wait_for("chat.update")
    assert "Acknowledged by Wendy Example" in json.dumps(update.params["blocks"])
    await send_event(slack, mention("<@UBOT> note INC-1 on it", event_id="Ev10", ts="17000009.10"))
    await slack.fake.wait_until(lambda: len(thread_answers(slack)) == 2)
    assert [c.params["user"] for c in slack.fake.calls_to("users.info")] == ["W111"]  # kept

    # Slack cannot name W333 (users.info: user_not_found) but Lookout knew her: the stored
    # name stays, and is the one shown.
    opened = (await incident(slack)).opened_at
    async with slack.server.lookout.database.unit_of_work() as uow:
        await uow.users.ensure(
            platform="slack",
            platform_user_id="W333",
            display_name="Carla Ruiz",
            default_role="responder",
            now=opened,
        )
    await send_event(
        slack,
        mention("<@UBOT> note INC-1 taking over", event_id="Ev11", ts="17000009.11", user="W333"),
    )
    await slack.fake.wait_until(lambda: len(thread_answers(slack)) == 3)
    async with slack.server.lookout.database.unit_of_work() as uow:
        carla = await uow.users.get(platform="slack", platform_user_id="W333")
        events = await uow.incidents.events(incident_id=1)
    assert carla is not None and carla.display_name == "Carla Ruiz"
    assert [e.actor for e in events if e.kind == "note"][-1] == "Carla Ruiz"


# 7. Invisible and look-alike characters ---------------------------------------------------

TYPED = {
    "no-break space": "show\u00a0INC-1",
    "narrow no-break space": "show\u202fINC-1",
    "ideographic space": "show\u3000INC-1",
    "zero-width space": "\u200bshow INC-1\u200b",
    "zero-width space alone between the words": "show\u200bINC-1",
    "word joiner alone between the words": "show\u2060#1",
    "non-breaking hyphen": "show INC\u20111",
    "fullwidth": "ｓｈｏｗ　ＩＮＣ－１",
    "soft hyphen": "sh\u00adow #1",
}


async def test_invisible_and_look_alike_characters_do_not_change_a_command(
    slack: SlackWorld,
) -> None:
    await ingest(slack, storm_payload(1, "checkout"))
    for number, typed in enumerate(TYPED.values()):
        body = slash_command(
            typed, trigger=f"t-look-{number}", response_url=slack.fake.response_url()
        )
        await slack.send(body)
    await send_event(
        slack, mention("<@UBOT>\u00a0show\u00a0INC-1", event_id="Ev12", ts="17000009.12")
    )
    await slack.fake.wait_until(lambda: len(thread_answers(slack)) == len(TYPED) + 1)
    assert slack.fake.calls_to("response_url") == []  # no "I don't know" anywhere
    assert all("INC-1" in call.params["text"] for call in thread_answers(slack))
