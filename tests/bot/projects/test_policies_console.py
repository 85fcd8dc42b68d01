"""Policies through the console, with two projects: a project's rules act on its incidents
only, fire once per episode, are audited, in the timeline and in the thread; `policies`
and `policies test` say which rules there are and which would fire, and why."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.background.policies import PolicyEngine
from bot.settings import Settings
from tests.bot.projects.conftest import PROJECTS, say, seed, words, write_config
from tests.bot.test_webhook import storm_payload
from tests.conftest import RunningServer, free_port, start_server

PAYMENTS_RULES: list[dict[str, Any]] = [
    {"name": "quiet", "when": "resolved and alerts == 1", "then": "auto_close"},
    {
        "name": "page-lead",
        "when": 'severity == "critical" and not acknowledged and labels["service"] == "checkout"',
        "then": "notify",
        "message": "critical and nobody has it",
    },
    {"name": "precedent", "when": "confidence > 0.85 and precedent", "then": "post_suggestion"},
    {"name": "lower", "when": 'precedent and severity == "critical"', "then": "set_severity:info"},
]


@pytest.fixture
async def policy_server(tmp_path: Path) -> AsyncIterator[RunningServer]:
    projects = [dict(entry) for entry in PROJECTS["projects"]]
    # Payments keeps an incident open past its alerts; its `quiet` rule closes it.
    projects[0] = {**projects[0], "policies": PAYMENTS_RULES, "resolve_with_alerts": False}
    settings = Settings(
        data_dir=tmp_path / "data",
        host="127.0.0.1",
        port=free_port(),
        config=write_config(tmp_path, {"projects": projects}),
    )
    server, task, running = await start_server(settings)
    # The test runs the policy passes itself, so it knows which pass fired what.
    assert running.lookout.policies is not None
    await running.lookout.policies.stop()
    try:
        yield running
    finally:
        server.should_exit = True
        await task


async def run_policies(server: RunningServer) -> list[tuple[int, str]]:
    engine = server.lookout.policies
    assert engine is not None
    return await engine.run_once()


async def test_a_projects_rules_fire_once_audited_in_the_timeline_and_thread(
    policy_server: RunningServer,
) -> None:
    lookout = policy_server.lookout
    async with policy_server.client() as client:
        await seed(client)  # INC-1 checkout (payments), INC-2 postgres-primary (platform)
        await lookout.notifier.flush()
        assert await run_policies(policy_server) == [(1, "page-lead")]
        assert await run_policies(policy_server) == []  # once per episode

        tested = words(await say(client, "U0PAYDEV", "policies test INC-1"))
        assert "Policies on INC-1" in tested
        assert "page-lead fired already in this episode" in tested
        assert "quiet matches" not in tested
        assert "quiet would not fire" in tested
        assert "✗ `resolved` (resolved is false)" in tested
        assert "✓ `not acknowledged` (acknowledged is false)" in tested
        assert "precedent would not fire" in tested
        assert "(precedent is false)" in tested

        # Its alert resolves: payments keeps the incident open (`resolve_with_alerts: false`)
        # and says so in the timeline; `quiet` closes it.
        resolved = storm_payload(1, "checkout")
        resolved["status"] = resolved["alerts"][0]["status"] = "resolved"
        resolved["alerts"][0]["endsAt"] = datetime.now(UTC).isoformat()
        response = await client.post("/webhooks/alertmanager", json=resolved)
        assert response.status_code == 200, response.text
        async with lookout.database.unit_of_work() as uow:
            held = await uow.incidents.get(incident_id=1)
        assert held is not None and held.status == "triggered"
        assert "All alerts resolved; the incident stays open until someone resolves it" in words(
            await say(client, "U0PAYDEV", "timeline INC-1")
        )
        assert await run_policies(policy_server) == [(1, "quiet")]
        assert await run_policies(policy_server) == []

        async with lookout.database.unit_of_work() as uow:
            incident = await uow.incidents.get(incident_id=1)
            platform_incident = await uow.incidents.get(incident_id=2)
            audit = await uow.audit.recent(limit=20)
            events = await uow.incidents.events(incident_id=1)
        assert incident is not None and incident.status == "resolved"
        assert incident.resolved_by == "policy quiet"
        assert platform_incident is not None and platform_incident.status == "triggered"
        fired = [(row.platform, row.user_id, row.action, row.target, row.project) for row in audit]
        assert [row for row in fired if row[0] == "policy"] == [
            ("policy", "quiet", "auto_close", "INC-1", "payments"),
            ("policy", "page-lead", "notify", "INC-1", "payments"),
        ]
        policy_events = [event for event in events if event.kind == "policy"]
        assert [event.actor for event in policy_events] == ["policy page-lead", "policy quiet"]

        timeline = words(await say(client, "U0PAYDEV", "timeline INC-1"))
        assert "POLICY" in timeline
        assert "Policy quiet resolved INC-1 (when resolved and alerts == 1)" in timeline
        shown = words(await say(client, "U0PAYDEV", "show INC-1"))
        assert "Policy quiet resolved INC-1" in shown

        await lookout.notifier.flush()
        roots = (await client.get("/console/api/messages?channel=%23payments")).json()
        root = next(message for message in roots if message["incident_id"] == 1)
        thread = (
            await client.get(f"/console/api/messages?channel=%23payments&thread={root['id']}")
        ).json()
        said = " ".join(words({"message": message}) for message in thread)
        assert "Policy page-lead critical and nobody has it." in said
        assert "Policy quiet resolved INC-1." in said

        tested = words(await say(client, "U0PAYDEV", "policies test INC-1"))
        assert "quiet fired already in this episode" in tested

        # The alert fires again: INC-1 reopens, a new episode, and its rules may fire anew.
        again = await client.post("/webhooks/alertmanager", json=storm_payload(1, "checkout"))
        assert again.status_code == 200
        assert await run_policies(policy_server) == [(1, "page-lead")]
        async with lookout.database.unit_of_work() as uow:
            firings = await uow.policies.of_incident(incident_id=1)
        assert [(row.rule, row.episode) for row in firings] == [
            ("page-lead", 1),
            ("quiet", 1),
            ("page-lead", 2),
        ]


async def test_policies_lists_the_projects_rules_and_hides_other_projects_incidents(
    policy_server: RunningServer,
) -> None:
    async with policy_server.client() as client:
        await seed(client)
        listed = words(await say(client, "U0PAYDEV", "policies"))
        assert "Policy rules in payments" in listed
        assert "quiet — when `resolved and alerts == 1` → `auto_close`" in listed
        assert "precedent — when `confidence > 0.85 and precedent` → `post_suggestion`" in listed
        other = words(await say(client, "U0PLAT", "policies", channel="#platform"))
        assert other == "No policy rules in platform."
        hidden = words(await say(client, "U0PAYDEV", "policies test INC-2"))
        assert hidden == "There is no incident INC-2."
        none = words(await say(client, "U0PLAT", "policy test INC-2", channel="#platform"))
        assert none == "No policy rules apply to INC-2."
        bad = words(await say(client, "U0PAYDEV", "policies frobnicate"))
        assert bad.startswith("Say `policies` to list the rules")
    assert await run_policies(policy_server) == [(1, "page-lead")]


async def test_two_replicas_passing_at_once_fire_each_rule_once(
    policy_server: RunningServer,
) -> None:
    lookout = policy_server.lookout
    assert lookout.policies is not None
    async with policy_server.client() as client:
        await seed(client)
    replica = PolicyEngine(
        lookout.database, lookout.policies.rules, on_change=lambda: None, metrics=lookout.metrics
    )
    first, second = await asyncio.gather(lookout.policies.run_once(), replica.run_once())
    assert sorted(first + second) == [(1, "page-lead")]
    async with lookout.database.unit_of_work() as uow:
        audit = await uow.audit.recent(limit=50)
        firings = await uow.policies.of_incident(incident_id=1)
    assert [row.user_id for row in audit if row.platform == "policy"] == ["page-lead"]
    assert [(row.rule, row.episode, row.project) for row in firings] == [
        ("page-lead", 1, "payments")
    ]


async def test_without_policies_there_is_no_policy_pass(teams_server: RunningServer) -> None:
    assert teams_server.lookout.policies is None
    async with teams_server.client() as client:
        answer = words(await say(client, "U0PAYDEV", "policies"))
    assert answer == "No policy rules in payments."


async def test_a_precedent_is_posted_and_the_severity_set_by_rules(
    policy_server: RunningServer,
) -> None:
    lookout = policy_server.lookout
    async with policy_server.client() as client:
        await seed(client)
        await lookout.notifier.flush()
        assert await run_policies(policy_server) == [(1, "page-lead")]
        # "Seen before?" found a resolved incident like INC-1 (stored as its check does).
        match = {
            "incident_id": 99,
            "title": "checkout errors after a deploy",
            "similarity": 0.91,
            "reasons": ["same service"],
            "fix": "rolled back",
            "runs": [],
        }
        async with lookout.database.unit_of_work() as uow:
            await uow.knowledge.add_hint(
                incident_id=1, matched=True, snapshot={"matches": [match]}, now=datetime.now(UTC)
            )
        tested = words(await say(client, "U0PAYDEV", "policies test INC-1"))
        assert "precedent would fire → `post_suggestion`" in tested
        assert "✓ `confidence > 0.85` (confidence is 0.91)" in tested
        assert await run_policies(policy_server) == [(1, "precedent"), (1, "lower")]
        async with lookout.database.unit_of_work() as uow:
            incident = await uow.incidents.get(incident_id=1)
        assert incident is not None
        assert (incident.severity, incident.severity_set_by) == ("info", "policy lower")
        await lookout.notifier.flush()
        roots = (await client.get("/console/api/messages?channel=%23payments")).json()
        thread = (
            await client.get(f"/console/api/messages?channel=%23payments&thread={roots[0]['id']}")
        ).json()
        said = " ".join(words({"message": message}) for message in thread)
        assert (
            "Policy precedent seen before — INC-99 · checkout errors after a deploy "
            "(91% alike), fixed by: _rolled back_." in said
        )
        assert "Policy lower set INC-1's severity critical → info." in said
