"""Isolation between projects, for every command: a payments-only person asks everything
about platform's things, through the console and through Slack (signed requests), and
nothing of platform's appears in any answer; what names platform's things is not found.

The table lists every command of the registry: a command added without an entry fails
`test_every_command_has_an_entry`."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from skills.catalog import default_registry
from tests.bot.projects.conftest import PROJECTS, say, seed, words
from tests.bot.slack.conftest import SlackWorld, slack_world, slash_command
from tests.conftest import free_port
from tests.integrations.fake_loki import fake_loki

PAYMENTS_USER = "U0PAYLEAD"  # admin in payments, not a member of platform
PLATFORM_USER = "U0PLAT"  # responder in platform

GREET = {
    "name": "greet-service",
    "title": "Greet a service",
    "risk": "medium",
    "triggers": [{"alerts": ["Alert*"]}],
    "parameters": [{"name": "service", "type": "string"}],
    "steps": [{"name": "Say hello", "kind": "exec", "argv": ["/bin/echo", "hello", "{{service}}"]}],
}
PLATFORM_ONLY = {
    "name": "platform-secret-fix",
    "project": "platform",
    "title": "Rotate the zanzibar credentials",
    "description": "What platform does when pgbouncer zanzibar connections pile up.",
    "risk": "low",
    "triggers": [{"alerts": ["Alert*"]}],
    "steps": [{"name": "Rotate", "kind": "exec", "argv": ["/bin/echo", "rotated"]}],
}
POSTMORTEM = """# Postgres zanzibar outage

INC-2 took the primary down: pgbouncer ran out of zanzibar connections.

## What fixed it

Restarting pgbouncer on the zanzibar pool.
"""

# What of platform's must never show to a payments-only person: its incident, its service,
# its change, its run, the word only its resolve note, postmortem and runbook use, its
# runbook and its postmortem.
PLATFORM_THINGS = {
    "incident": re.compile(r"INC-2(?!\d)|incident:2(?!\d)"),
    "service": re.compile(r"postgres-primary"),
    "change": re.compile(r"deploy-plat-77|dns-plat-5"),
    "run": re.compile(r"(?<![\w-])R-1(?!\d)"),
    "fix": re.compile(r"zanzibar", re.IGNORECASE),
    "runbook": re.compile(r"platform-secret-fix"),
    "postmortem": re.compile(r"pg-outage"),
    "oncall": re.compile(r"platform-primary|U0PLATLEAD"),
}
NO_PLATFORM_SERVICE = "There is no service postgres-primary you can see."
# Loki's lines of one trace through both projects' services: only checkout's may show.
TRACE_LINES = [
    ({"service": "checkout"}, "POST /cart trace_id=t-9 failed: upstream"),
    ({"service": "postgres-primary"}, "zanzibar pool exhausted trace_id=t-9"),
]
ONCALL = {
    "schedules": {
        "payments-primary": {
            "project": "payments",
            "rotation": {"users": ["U0PAYLEAD", "U0PAYDEV"], "shift": "1d"},
        },
        "platform-primary": {"project": "platform", "rotation": {"users": ["U0PLATLEAD"]}},
    }
}

NO_INCIDENT = "There is no incident INC-2."
NO_RUN = "There is no run R-1."


@dataclass(frozen=True)
class Case:
    """One command as the payments person types it; `refusal`: the one sentence it must
    answer (a command naming platform's thing), None: any answer, scanned."""

    command: str
    refusal: str | None = None


# Every command, with what a payments-only person asks of it about platform's things.
TABLE: dict[str, list[Case]] = {
    "help": [Case("help")],
    "incidents": [Case("incidents --all")],
    "show": [Case("show INC-2", NO_INCIDENT)],
    "ack": [Case("ack INC-2", NO_INCIDENT)],
    "resolve": [Case("resolve INC-2 fixed", NO_INCIDENT)],
    "similar": [
        Case("similar INC-1"),
        Case("similar pgbouncer connections symptom"),
        Case("similar INC-2", NO_INCIDENT),
    ],
    "unack": [Case("unack INC-2", NO_INCIDENT)],
    "assign": [Case("assign INC-2 U0PAYDEV", NO_INCIDENT)],
    "severity": [Case("severity INC-2 warning", NO_INCIDENT)],
    "runbooks": [Case("runbooks"), Case("runbooks --incident INC-1")],
    "run": [
        Case("run show R-1", NO_RUN),
        Case("run --plan R-1", NO_RUN),
        Case("run greet-service service=x --incident INC-2", NO_INCIDENT),
        Case(
            "run platform-secret-fix", "There is no runbook `platform-secret-fix`. Try `runbooks`."
        ),
    ],
    "approve": [Case("approve R-1", NO_RUN)],
    "reject": [Case("reject R-1 no", NO_RUN)],
    "cancel": [Case("cancel R-1", NO_RUN)],
    "confirm": [Case("confirm R-1", NO_RUN)],
    "timeline": [Case("timeline INC-2", NO_INCIDENT)],
    "note": [Case("note INC-2 hello", NO_INCIDENT)],
    "status": [Case("status INC-2 investigating", NO_INCIDENT)],
    "merge": [Case("merge INC-1 INC-2", NO_INCIDENT)],
    "split": [Case("split INC-2 Alert0", NO_INCIDENT)],
    "blast-radius": [
        Case("blast-radius checkout"),
        Case("blast-radius --incident INC-2"),
    ],
    "topology": [Case("topology")],
    "stats": [Case("stats"), Case("stats --report")],
    "changes": [Case("changes --since 1d")],
    "change": [
        Case(
            "change postgres-primary restarted it",
            "There is no service postgres-primary you can see.",
        )
    ],
    "correlate": [Case("correlate INC-1"), Case("correlate INC-2", NO_INCIDENT)],
    "metrics": [
        Case('metrics up{service="checkout"}'),
        Case('metrics up{service="postgres-primary"}', NO_PLATFORM_SERVICE),
        Case("metrics postgres-primary --compare 1d", NO_PLATFORM_SERVICE),
        Case(
            "metrics up",
            "`up` reads every project's series: name one of your services in each selector, "
            'e.g. `up{service="<service>"}`.',
        ),
    ],
    "logs": [
        Case("logs checkout"),
        Case("logs --trace t-9 --since 1h"),
        Case("logs postgres-primary", NO_PLATFORM_SERVICE),
    ],
    "health": [Case("health")],
    "suggest": [Case("suggest INC-1"), Case("suggest INC-2", NO_INCIDENT)],
    "ask": [Case("ask how did we fix pgbouncer connections?")],
    "explain": [Case("explain INC-1"), Case("explain INC-2", NO_INCIDENT)],
    "postmortem": [Case("postmortem INC-1"), Case("postmortem INC-2", NO_INCIDENT)],
    "feedback": [
        Case("feedback stats"),
        Case("feedback up incident:2 --incident INC-2", NO_INCIDENT),
    ],
    "slo": [Case("slo")],
    "capacity": [Case("capacity")],
    "schedules": [Case("schedules")],
    "oncall": [
        Case("oncall"),
        Case(
            "oncall platform-primary",
            "There is no on-call schedule 'platform-primary' (payments-primary).",
        ),
    ],
    "snooze": [Case("snooze INC-2 30m", NO_INCIDENT)],
    "sla": [Case("sla")],
    "policies": [Case("policies"), Case("policies test INC-2", NO_INCIDENT)],
    "audit": [Case("audit"), Case("audit --since 1d")],
    "whoami": [Case("whoami")],
    "project": [Case("project")],
    "role": [
        Case(
            "role U0PAYDEV responder --project platform",
            "Giving roles in platform needs its admin role.",
        )
    ],
}


def leaks(text: str) -> list[str]:
    """Which of platform's things `text` shows."""
    return [name for name, pattern in PLATFORM_THINGS.items() if pattern.search(text)]


def test_every_command_has_an_entry() -> None:
    verbs = {skill.verb for skill in default_registry().skills}
    assert set(TABLE) == verbs, (
        "every command needs a row in TABLE saying what a person of one project asks it "
        f"about another's things; missing: {sorted(verbs - set(TABLE))}, "
        f"unknown: {sorted(set(TABLE) - verbs)}"
    )


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[SlackWorld]:
    """The two projects, with Slack on, a runbook folder (one runbook platform's own) and
    a postmortem folder; no unasked context posts (they are not what is tested here)."""
    runbooks = tmp_path / "runbooks"
    runbooks.mkdir()
    for runbook in (GREET, PLATFORM_ONLY):
        (runbooks / f"{runbook['name']}.yaml").write_text(yaml.safe_dump(runbook))
    postmortems = tmp_path / "postmortems"
    postmortems.mkdir()
    (postmortems / "2026-11-pg-outage.md").write_text(POSTMORTEM)
    config = {
        **PROJECTS,
        "runbooks": {
            "library": False,
            "directory": str(runbooks),
            "execution": {"executables": ["/bin/echo"]},
        },
        "knowledge": {"postmortems": str(postmortems)},
        "context_posts": {"enabled": False},
        "oncall": ONCALL,
    }
    at = int((datetime.now(UTC) - timedelta(minutes=5)).timestamp() * 1e9)
    lines = [(labels, at + n, line) for n, (labels, line) in enumerate(TRACE_LINES)]
    # Prometheus on a port nobody listens on: what a query may read is decided before asking.
    with fake_loki(lines) as loki:
        async with slack_world(
            tmp_path,
            yaml.safe_dump(config),
            loki_url=loki,
            prometheus_url=f"http://127.0.0.1:{free_port()}",
        ) as found:
            yield found


async def seed_both(world: SlackWorld, client: httpx.AsyncClient) -> None:
    """INC-1 (payments, open) with run R-2; INC-2 (platform) with run R-1, resolved with a
    note, a postmortem naming it, platform's changes; all indexed."""
    await seed(client)
    await world.server.lookout.notifier.flush()
    planned = await say(
        client,
        PLATFORM_USER,
        "run greet-service service=postgres-primary --incident INC-2",
        channel="#platform",
    )
    assert "R-1" in words(planned), planned
    ours = await say(client, "U0PAYDEV", "run greet-service service=checkout --incident INC-1")
    assert "R-2" in words(ours), ours
    started = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    for change in (
        {"id": "deploy-plat-77", "kind": "deployment", "service": "postgres-primary"},
        # A service no project owns, labelled platform's: the label wins.
        {"id": "dns-plat-5", "kind": "config", "service": "shared-dns", "project": "platform"},
        {"id": "deploy-pay-11", "kind": "deployment", "service": "checkout"},
    ):
        response = await client.post("/webhooks/changes", json={**change, "started_at": started})
        assert response.status_code in (200, 202), response.text
    resolved = await say(
        client, PLATFORM_USER, "resolve INC-2 restarted pgbouncer zanzibar pool", "#platform"
    )
    assert "resolved" in words(resolved).lower(), resolved
    knowledge = world.server.lookout.knowledge
    assert knowledge is not None
    await knowledge.sync.catch_up()
    assert "incident:2" in knowledge.index.ids("incident:")
    assert knowledge.index.ids("postmortem:2026-11-pg-outage")
    await world.server.lookout.notifier.flush()


async def check_stored_projects(world: SlackWorld) -> None:
    """Changes and runs carry their project; the index knows whose documents are whose."""
    async with world.server.lookout.database.unit_of_work() as uow:
        changes = {
            event_id: (await uow.changes.get(event_id=event_id))
            for event_id in ("deploy-plat-77", "dns-plat-5", "deploy-pay-11")
        }
        runs = {run_id: await uow.runs.get(run_id=run_id) for run_id in (1, 2)}
    assert {key: row.project for key, row in changes.items() if row} == {
        "deploy-plat-77": "platform",
        "dns-plat-5": "platform",
        "deploy-pay-11": "payments",
    }
    assert {key: row.project for key, row in runs.items() if row} == {1: "platform", 2: "payments"}
    knowledge = world.server.lookout.knowledge
    assert knowledge is not None
    documents = await knowledge.index.store.documents(
        ["incident:2", "postmortem:2026-11-pg-outage#0", "runbook:platform-secret-fix"]
    )
    assert {d.id: d.meta.get("project") for d in documents} == {
        "incident:2": "platform",
        "postmortem:2026-11-pg-outage#0": "platform",
        "runbook:platform-secret-fix": "platform",
    }


async def test_a_person_of_one_project_sees_nothing_of_another(world: SlackWorld) -> None:
    async with world.client() as client:
        await seed_both(world, client)
        await check_stored_projects(world)
        # The platform person finds their own things: the scans below would see a leak.
        theirs = await say(client, PLATFORM_USER, TABLE["ask"][0].command, channel="#platform")
        assert {"incident", "fix"} <= set(leaks(json.dumps(theirs))), theirs
        trace = await say(client, PLATFORM_USER, "logs --trace t-9 --since 1h", "#platform")
        assert "fix" in leaks(json.dumps(trace)), trace
        oncall = await say(client, PLATFORM_USER, "oncall", channel="#platform")
        assert "oncall" in leaks(json.dumps(oncall)), oncall
        for verb, cases in TABLE.items():
            for case in cases:
                answer = await say(client, PAYMENTS_USER, case.command)
                said = json.dumps(answer, ensure_ascii=False)
                if case.refusal is not None:
                    assert words(answer) == case.refusal, (verb, case.command, answer)
                    said = said.replace(case.refusal, "")
                assert leaks(said) == [], (verb, case.command, answer)
        await check_console_lists(client)
    await check_slack(world)


async def check_console_lists(client: httpx.AsyncClient) -> None:
    """The console's lists as the payments person: no platform incident, channel or
    message; platform's channel is refused with a reason."""
    user = {"user": PAYMENTS_USER}
    listed = (await client.get("/console/api/incidents", params={**user, "status": "all"})).json()
    assert [row["ref"] for row in listed] == ["INC-1"]
    channels = (await client.get("/console/api/channels", params=user)).json()
    assert "#payments" in channels and "#platform" not in channels
    refused = await client.get("/console/api/messages", params={**user, "channel": "#platform"})
    assert refused.status_code == 403
    assert "not a member of platform" in refused.json()["detail"]
    for channel in channels:
        shown = await client.get("/console/api/messages", params={**user, "channel": channel})
        assert shown.status_code == 200
        assert leaks(shown.text) == [], (channel, shown.text)
    # The platform person sees their channel; a page naming nobody sees everything.
    platform = await client.get(
        "/console/api/messages", params={"user": PLATFORM_USER, "channel": "#platform"}
    )
    assert "INC-2" in platform.text
    everything = (await client.get("/console/api/incidents", params={"status": "all"})).json()
    assert [row["ref"] for row in everything] == ["INC-2", "INC-1"]


ANSWERS = ("response_url", "chat.postMessage", "chat.postEphemeral", "chat.update")


def answers_since(world: SlackWorld, start: int) -> list[dict[str, Any]]:
    """What Lookout said on Slack since call `start`, outside platform's channel."""
    return [
        call.params
        for call in world.fake.calls[start:]
        if call.method in ANSWERS and call.params.get("channel") != "C0PLAT"
    ]


def slack_escaped(text: str) -> str:
    """`text` as Slack shows it: `&`, `<` and `>` escaped."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def answered(world: SlackWorld, before: int, refusal: str | None) -> Callable[[], bool]:
    """Whether Slack got an answer since call `before` (saying `refusal`, when given)."""

    def done() -> bool:
        said = [json.dumps(p, ensure_ascii=False) for p in answers_since(world, before)]
        wanted = json.dumps(slack_escaped(refusal or ""), ensure_ascii=False)[1:-1]
        return bool(said) and (refusal is None or any(wanted in text for text in said))

    return done


async def check_slack(world: SlackWorld) -> None:
    """The same table through Slack: signed slash commands from payments' channel."""
    start = len(world.fake.calls)
    number = 0
    for verb, cases in TABLE.items():
        for case in cases:
            number += 1
            hook = f"iso-{number}"
            before = len(world.fake.calls)
            body = slash_command(
                case.command,
                user=PAYMENTS_USER,
                channel="C0PAY",
                trigger=f"t-iso-{number}",
                response_url=world.fake.response_url(hook),
            )
            response = await world.send(body)
            assert response.status_code == 200, (verb, case.command, response.text)
            await world.fake.wait_until(answered(world, before, case.refusal))
    await world.server.lookout.notifier.flush()
    for params in answers_since(world, start):
        said = json.dumps(params, ensure_ascii=False)
        for case in (c for cases in TABLE.values() for c in cases if c.refusal):
            refusal = json.dumps(slack_escaped(case.refusal or ""), ensure_ascii=False)[1:-1]
            said = said.replace(refusal, "")
        assert leaks(said) == [], params
