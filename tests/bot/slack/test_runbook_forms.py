"""Runbooks in Slack: a form for missing parameters opens as a modal (views.open with the
click's trigger_id), its submission runs the command, and a step's whole output is uploaded
as a file in the thread."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import yaml

from tests.bot.slack.conftest import SlackWorld, slack_world, slash_command
from tests.bot.test_webhook import storm_payload
from tests.conftest import FIXTURES

PICK = {
    "name": "promote-replica",
    "title": "Promote a replica",
    "risk": "low",
    "triggers": [{"alerts": ["Alert*"]}],
    "parameters": [
        {"name": "service", "type": "string"},
        {"name": "candidate", "type": "enum", "values": ["pg-1", "pg-2"]},
        {"name": "ticket", "type": "string", "description": "the change ticket"},
    ],
    "steps": [
        {
            "name": "Promote",
            "kind": "exec",
            "argv": ["/usr/bin/printf", "%s\\n", "{{service}}", "{{candidate}}", "{{ticket}}"],
        },
        {
            "name": "List",
            "kind": "exec",
            "argv": ["/usr/bin/printf", "row %s\\n", *[str(n) for n in range(1, 41)]],
        },
    ],
}
DRAIN = {
    "name": "drain-node",
    "title": "Drain a node",
    "risk": "medium",
    "triggers": [{"alerts": ["Alert*"], "labels": {"severity": "critical"}}],
    "parameters": [{"name": "service", "type": "string"}],
    "steps": [
        {"name": "Drain", "kind": "exec", "argv": ["/usr/bin/printf", "%s\\n", "{{service}}"]}
    ],
}


@pytest.fixture
async def slack(tmp_path: Path) -> AsyncIterator[SlackWorld]:
    folder = tmp_path / "runbooks"
    folder.mkdir()
    (folder / "promote.yaml").write_text(yaml.safe_dump(PICK))
    (folder / "drain.yaml").write_text(yaml.safe_dump(DRAIN))
    config = {
        "routing": {"default_channel": "#incidents"},
        "runbooks": {
            "library": False,
            "folders": [str(folder)],
            "execution": {"executables": ["/usr/bin/printf"]},
        },
    }
    async with slack_world(tmp_path, yaml.safe_dump(config)) as world:
        yield world


def interaction(kind: str, **fields: Any) -> bytes:
    """An interaction payload shaped like the recorded block_actions one (Bolt's tests)."""
    payload: dict[str, Any] = json.loads(
        (FIXTURES / "slack" / "bolt_block_actions_payload.json").read_text()
    )
    payload["type"] = kind
    payload["user"] = {"id": "W222", "username": "bob", "name": "bob", "team_id": "T111"}
    payload.update(fields)
    return urlencode({"payload": json.dumps(payload)}).encode()


async def test_missing_parameters_open_a_modal_whose_submission_runs_the_plan(
    slack: SlackWorld,
) -> None:
    async with slack.client() as client:
        await client.post("/webhooks/alertmanager", json=storm_payload(1, "checkout"))
    await slack.server.lookout.notifier.flush()
    [root] = slack.fake.calls_to("chat.postMessage")
    root_ts = "1700000000.000001"
    body = slash_command(
        "run promote-replica --incident INC-1 --dry-run ticket=CHG-7",
        trigger="t-run",
        response_url=slack.fake.response_url("run"),
    )
    assert (await slack.send(body)).status_code == 200
    [hook] = await slack.fake.wait_for("response_url")
    assert hook.params["response_type"] == "ephemeral"
    assert "needs 1 more parameter to plan" in hook.params["text"]
    [button] = [
        element
        for block in hook.params["blocks"]
        if block["type"] == "actions"
        for element in block["elements"]
    ]
    assert button["action_id"].startswith("lookout-form:")
    assert button["text"]["text"] == "📝 Parameters for promote-replica…"

    click = interaction(
        "block_actions",
        trigger_id="t-form-click",
        container={"type": "message", "message_ts": root_ts, "channel_id": "C0INCIDENTS"},
        channel={"id": "C0INCIDENTS", "name": "incidents"},
        message={"ts": root_ts, "type": "message", "text": "incident"},
        actions=[{**button, "block_id": "b1", "type": "button", "action_ts": "1.2"}],
        response_url=slack.fake.response_url("form"),
    )
    assert (await slack.send(click)).status_code == 200
    [opened] = await slack.fake.wait_for("views.open")
    assert opened.params["trigger_id"] == "t-form-click"
    view = opened.params["view"]
    assert view["type"] == "modal" and view["callback_id"] == "lookout-form"
    assert view["submit"]["text"] == "Plan"
    heading, field = view["blocks"]
    assert heading["text"]["text"] == "*Parameters for promote-replica*"
    assert field["block_id"] == "field:candidate" and field["element"]["type"] == "static_select"
    assert [o["value"] for o in field["element"]["options"]] == ["pg-1", "pg-2"]
    metadata = json.loads(view["private_metadata"])
    assert metadata == {
        "command": "run promote-replica ticket=CHG-7 --incident INC-1 --dry-run",
        "names": ["candidate"],
        "channel": "C0INCIDENTS",
        "thread": root_ts,
        "incident": 1,
    }

    chosen = {"type": "static_select", "selected_option": {"value": "pg-2"}}
    submitted = interaction(
        "view_submission",
        trigger_id="t-form-submit",
        view={**view, "id": "V1", "state": {"values": {"field:candidate": {"value": chosen}}}},
        response_urls=[],
    )
    response = await slack.send(submitted)
    assert response.status_code == 200 and response.text == ""  # the modal closes
    posts = await slack.fake.wait_for("chat.postMessage", 2)
    plan = posts[1]
    assert plan.params["thread_ts"] == root_ts and plan.params["channel"] == "C0INCIDENTS"
    shown = json.dumps(plan.params["blocks"], ensure_ascii=False)
    assert "📝 dry run: nothing was executed" in shown
    assert "candidate = `pg-2` — given" in shown
    assert "service = `checkout` — label service of Alert0" in shown
    assert "Run this" in shown and "run --plan R-1" in shown
    assert root.params["channel"] == "#incidents"
    async with slack.server.lookout.database.unit_of_work() as uow:
        audit = await uow.audit.recent(action="run", limit=1)
    assert audit[0].user_id == "W222"


async def test_a_long_step_output_is_uploaded_as_a_file_in_the_thread(slack: SlackWorld) -> None:
    async with slack.client() as client:
        await client.post("/webhooks/alertmanager", json=storm_payload(1, "checkout"))
    await slack.server.lookout.notifier.flush()
    run = slash_command(
        "run promote-replica candidate=pg-1 ticket=CHG-8 --incident INC-1",
        trigger="t-real",
        response_url=slack.fake.response_url("real"),
    )
    await slack.send(run)
    await slack.fake.wait_for("response_url")
    await slack.server.lookout.runs.wait(1)
    await slack.server.lookout.notifier.flush()
    show = slash_command(
        "run show R-1 2", trigger="t-show", response_url=slack.fake.response_url("show")
    )
    await slack.send(show)
    [complete] = await slack.fake.wait_for("files.completeUploadExternal")
    files = json.loads(complete.params["files"])
    assert [f["title"] for f in files] == ["R-1-2.txt"]
    assert complete.params["thread_ts"] == "1700000000.000001"
    [upload] = slack.fake.calls_to("upload")
    assert upload.params["size"] == len("".join(f"row {n}\n" for n in range(1, 41)))
    answer = slack.fake.calls_to("chat.postMessage")[-1]
    assert "… 10 more lines: the whole output is R-1-2.txt" in json.dumps(
        answer.params["blocks"], ensure_ascii=False
    )


def blocks_text(call: Any) -> str:
    return json.dumps(call.params.get("blocks", []), ensure_ascii=False)


async def test_suggestions_then_plan_then_run_this_asks_for_approval_at_once(
    slack: SlackWorld,
) -> None:
    """The journey in Slack: suggestions say why each runbook fits, a dry run's plan carries
    Run this, and its click posts the approval card in the thread without waiting for the
    notifier's idle pass (here made an hour long, so only the run's own wake can post it)."""
    lookout = slack.server.lookout

    def posted(text: str, since: int = 0) -> list[Any]:
        return [
            p for p in slack.fake.calls_to("chat.postMessage")[since:] if text in blocks_text(p)
        ]

    async with slack.client() as client:
        await client.post("/webhooks/alertmanager", json=storm_payload(1, "checkout"))
    await lookout.notifier.flush()
    root_ts = "1700000000.000001"
    suggest = slash_command(
        "runbooks --incident INC-1", trigger="t-s", response_url=slack.fake.response_url("s")
    )
    await slack.send(suggest)
    await slack.fake.wait_until(lambda: bool(posted("Runbooks for INC-1")))
    [listed] = posted("Runbooks for INC-1")
    assert listed.params["thread_ts"] == root_ts  # an incident's answers go in its thread
    shown = blocks_text(listed)
    assert "*drain-node*" in shown and "*promote-replica*" in shown
    assert "alert Alert0 matches Alert" in shown and "severity=critical" in shown  # why

    plan = slash_command(
        "run drain-node --incident INC-1 --dry-run",
        trigger="t-p",
        response_url=slack.fake.response_url("p"),
    )
    await slack.send(plan)
    await slack.fake.wait_until(lambda: bool(posted("dry run")))
    [card] = posted("dry run")
    assert card.params["thread_ts"] == root_ts
    [run_this] = [
        element
        for block in card.params["blocks"]
        if block["type"] == "actions"
        for element in block["elements"]
        if element["text"]["text"].startswith("Run this")
    ]

    lookout.notifier._background._interval = 3600  # no idle pass from here on
    lookout.notifier.wake()
    await lookout.notifier.flush()
    before = len(slack.fake.calls_to("chat.postMessage"))
    click = interaction(
        "block_actions",
        trigger_id="t-run-this",
        container={
            "type": "message",
            "message_ts": card.params.get("ts", root_ts),
            "channel_id": "C0INCIDENTS",
        },
        channel={"id": "C0INCIDENTS", "name": "incidents"},
        message={"ts": root_ts, "type": "message", "text": "plan"},
        actions=[{**run_this, "block_id": "b2", "type": "button", "action_ts": "1.3"}],
        response_url=slack.fake.response_url("run-this"),
    )
    assert (await slack.send(click)).status_code == 200
    await slack.fake.wait_until(
        lambda: any(
            "Approve" in blocks_text(p) for p in slack.fake.calls_to("chat.postMessage")[before:]
        ),
        within=10,
    )
    [approval] = [
        p for p in slack.fake.calls_to("chat.postMessage")[before:] if "Approve" in blocks_text(p)
    ]
    assert approval.params["thread_ts"] == root_ts
    assert "waiting for a responder to approve" in blocks_text(approval)
    assert "service = `checkout` — label service of Alert0" in blocks_text(approval)
