"""`lookout serve --demo` on a fresh machine: its PostgreSQL outage suggests a runbook that can
be planned and really run — parameters from the alert, the missing one asked for, a second
person's approval, a manual confirmation, progress, and a rollback when a step fails."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.settings import Settings
from tests.bot.background.test_runbook_runs import text_of
from tests.conftest import RunningServer, free_port, start_server


@pytest.fixture
async def demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[RunningServer]:
    # As `make run` starts it: the data folder relative to where Lookout was started (the
    # steps run in a folder of their own, so the programs must be found from there too).
    monkeypatch.chdir(tmp_path)
    settings = Settings(data_dir=Path("data"), port=free_port())
    assert settings.data_dir == tmp_path / "data"
    server, task, running = await start_server(settings, demo=True)
    try:
        yield running
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=10)


async def say(client: httpx.AsyncClient, text: str, user: str = "alice") -> dict[str, Any]:
    response = await client.post("/console/api/command", json={"text": text, "user": user})
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def database_incident(client: httpx.AsyncClient) -> str:
    for _ in range(300):  # the demo's storm is replayed in the background after start
        incidents = (await client.get("/console/api/incidents")).json()
        found = [i["ref"] for i in incidents if i["title"].startswith("postgres-primary: ")]
        if found:
            return str(found[0])
        await asyncio.sleep(0.1)
    raise AssertionError("the demo's database outage never opened")


async def run_card(demo: RunningServer, client: httpx.AsyncClient, ref: str) -> str:
    return text_of((await say(client, f"run show {ref}"))["message"])


async def test_the_demo_runbook_is_suggested_planned_approved_run_and_rolled_back(
    demo: RunningServer,
) -> None:
    async with demo.client() as client:
        incident = await database_incident(client)
        suggested = (await say(client, f"runbooks --incident {incident}"))["message"]["blocks"]
        [table] = [block for block in suggested if block["type"] == "table"]
        first = table["rows"][0]
        assert first[0] == "demo-failover-postgresql" and first[5] == "ready"
        assert first[2].startswith(
            "alert PostgresDown matches Postgres\\*Down, its rule queries pg\\_up"
        )
        assert table["rows"][1][0] == "failover-postgresql-replica"  # the real one: no patronictl
        [buttons] = [block for block in suggested if block["type"] == "actions"]
        plan_button = buttons["buttons"][0]["command"]

        asked = await say(client, plan_button)
        assert asked["ephemeral"] is True
        [form] = [block for block in asked["blocks"] if block["type"] == "form"]
        assert [field["name"] for field in form["inputs"]] == ["candidate"]
        planned = await say(client, f"{form['command']} candidate=pg-1")
        plan = text_of(planned["message"])
        assert "• cluster = `prod-eu1` — label cluster of PostgresDown" in plan
        assert "• primary = `pg-0` — label instance of PostgresDown" in plan
        assert "lookout-demo-patroni list prod-eu1" in plan and "[Run this]" in plan

        # The demo's history holds earlier runs: the ids come from the answers.
        [plan_ref] = re.findall(r"run --plan (R-\d+)", json.dumps(planned["message"]))[:1]
        requested = await say(client, f"run --plan {plan_ref}")
        assert "waiting for a second person to approve" in requested["text"]
        run_ref = re.findall(r"R-\d+", requested["text"])[0]
        own = await say(client, f"approve {run_ref}")
        assert own["text"].endswith("a second person approves.")
        assert (await say(client, f"approve {run_ref}", user="bob"))[
            "text"
        ] == f"Approved {run_ref} — starting."
        for _ in range(300):
            if "waiting for confirmation" in await run_card(demo, client, run_ref):
                break
            await asyncio.sleep(0.1)
        confirmed = await say(client, f"confirm {run_ref} pg-0 is powered off", user="bob")
        assert confirmed["text"] == f"Confirmed step 3 of {run_ref}."
        await asyncio.wait_for(demo.lookout.runs.wait(int(run_ref[2:])), timeout=30)
        card = await run_card(demo, client, run_ref)
        failed = text_of((await say(client, f"run show {run_ref} 6"))["message"])
    assert "↩️ failed, rolled back" in card
    assert "✓ 1. Show the cluster" in card and f"… 4 more lines · `run show {run_ref} 1`" in card
    assert "confirmed by bob: “pg-0 is powered off”" in card
    assert "✓ 4. Fail over" in card
    assert "✗ 6. Verify writes reach the new primary" in card
    assert "✓ rollback 1. Return the candidate to a replica" in card
    assert "Step 6 (Verify writes reach the new primary) failed: exit status 1" in card
    assert "cannot execute INSERT in a read-only transaction" in failed


async def test_the_demo_allowlist_is_the_demo_program_only(demo: RunningServer) -> None:
    """Only `--demo` puts the simulated Patroni on an allowlist, copied into the data folder."""
    bin_dir = demo.lookout.settings.data_dir / "demo" / "bin"
    executables = demo.lookout.config.runbooks.execution.executables
    assert executables == [str(bin_dir / "lookout-demo-patroni")]
    program = bin_dir / "lookout-demo-patroni"
    assert program.read_text().startswith("#!/") and program.stat().st_mode & 0o111


async def test_a_failed_pre_check_rolls_nothing_back(demo: RunningServer) -> None:
    """pg-2 is far behind: step 2 (a check) refuses it before anything changed, so the
    rollback (a demote) must not run — it would demote a healthy replica."""
    async with demo.client() as client:
        incident = await database_incident(client)
        requested = await say(
            client, f"run demo-failover-postgresql candidate=pg-2 --incident {incident}"
        )
        run_ref = re.findall(r"R-\d+", requested["text"])[0]
        approved = await say(client, f"approve {run_ref}", user="bob")
        assert approved["text"] == f"Approved {run_ref} — starting."
        await asyncio.wait_for(demo.lookout.runs.wait(int(run_ref[2:])), timeout=30)
        card = await run_card(demo, client, run_ref)
        timeline = text_of((await say(client, f"show {incident}"))["message"])
        rollback = (await say(client, f"run show {run_ref} rollback-1"))["text"]
    assert "❌ failed" in card and "rolled back" not in card
    assert "✓ 1. Show the cluster" in card
    assert "✗ 2. Check the candidate is caught up (lag under 10 s)" in card
    assert "rollback 1." not in card and "Return the candidate" not in card
    assert "Nothing to roll back: no step that changes anything ran." in card
    assert (
        f"{run_ref} (demo-failover-postgresql) failed; nothing to roll back: no step that "
        "changes anything ran"
    ) in timeline
    assert rollback == (
        f"Rollback step 1 of {run_ref} did not run: no step that changes anything ran, so "
        "there was nothing to roll back."
    )
