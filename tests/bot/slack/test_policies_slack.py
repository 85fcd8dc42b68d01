"""Policies of a single-team install through Slack: an `ack` typed in Slack makes a rule
fire, its line lands in the incident's thread; with incidents kept open past their alerts,
auto_close resolves the incident once its alerts resolved, once, audited and in the
timeline; `policies test` says why."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.bot.slack.conftest import SlackWorld, slack_world, slash_command
from tests.bot.slack.test_slack_adapter import ingest
from tests.bot.test_webhook import storm_payload

CONFIG = """
routing:
  default_channel: "#incidents"
resolve_with_alerts: false
policies:
  - name: acked-critical
    when: acknowledged and severity == "critical"
    then: notify
    message: "critical and acknowledged: post an update every 30 minutes"
  - name: quiet
    when: resolved and age < 1d
    then: auto_close
"""


def thread_posts(world: SlackWorld, root_ts: str) -> list[str]:
    return [
        call.params.get("text", "").replace("*", "")
        for call in world.fake.calls_to("chat.postMessage")
        if call.params.get("thread_ts") == root_ts
    ]


async def test_rules_fire_on_slack_commands_once_into_the_thread(tmp_path: Path) -> None:
    async with slack_world(tmp_path, CONFIG) as slack:
        lookout = slack.server.lookout
        assert lookout.policies is not None
        await ingest(slack, storm_payload(1, "checkout"))
        [root] = slack.fake.calls_to("chat.postMessage")
        root_ts = root.params.get("ts") or "1700000000.000001"

        await slack.send(
            slash_command("ack INC-1", trigger="t-ack", response_url=slack.fake.response_url())
        )
        await slack.fake.wait_until(
            lambda: any(
                "Policy acked-critical critical and acknowledged" in text
                for text in thread_posts(slack, root_ts)
            )
        )

        # The alert resolves; the incident stays open, and the next pass closes it.
        resolved = storm_payload(1, "checkout")
        resolved["status"] = resolved["alerts"][0]["status"] = "resolved"
        resolved["alerts"][0]["endsAt"] = datetime.now(UTC).isoformat()
        await ingest(slack, resolved)
        await slack.fake.wait_until(
            lambda: any(
                "Policy quiet resolved INC-1" in text for text in thread_posts(slack, root_ts)
            )
        )
        assert await lookout.policies.run_once() == []

        async with lookout.database.unit_of_work() as uow:
            incident = await uow.incidents.get(incident_id=1)
            events = await uow.incidents.events(incident_id=1)
            audit = await uow.audit.recent(limit=20)
        assert incident is not None
        assert (incident.status, incident.resolved_by) == ("resolved", "policy quiet")
        assert [e.actor for e in events if e.kind == "policy"] == [
            "policy acked-critical",
            "policy quiet",
        ]
        policy_audit: list[Any] = [
            (row.user_id, row.action, row.target, row.project)
            for row in audit
            if row.platform == "policy"
        ]
        assert policy_audit == [
            ("quiet", "auto_close", "INC-1", "default"),
            ("acked-critical", "notify", "INC-1", "default"),
        ]
        posted = thread_posts(slack, root_ts)
        assert sum("Policy quiet" in text for text in posted) == 1
        assert sum("Policy acked-critical" in text for text in posted) == 1

        await slack.send(
            slash_command(
                "policies test INC-1", trigger="t-pol", response_url=slack.fake.response_url()
            )
        )
        await slack.fake.wait_until(
            lambda: any("Policies on INC-1" in text for text in thread_posts(slack, root_ts))
        )
        said = next(text for text in thread_posts(slack, root_ts) if "Policies on" in text)
        assert "quiet fired already in this episode" in said
        assert "acked-critical fired already in this episode" in said
