"""Runbooks from chat, end to end through the console: run → approve → progress → done,
with real programs, one progress message edited in place, and the two-person rule."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from bot.settings import Settings
from tests.bot.test_webhook import storm_payload
from tests.conftest import RunningServer, free_port, start_server

GREET = {
    "name": "greet-service",
    "title": "Greet a service",
    "risk": "medium",
    "triggers": [{"alerts": ["Alert*"]}],
    "parameters": [{"name": "service", "type": "string"}],
    "steps": [
        {"name": "Say hello", "kind": "exec", "argv": ["/bin/echo", "hello", "{{service}}"]},
        {"name": "Say done", "kind": "exec", "argv": ["/bin/echo", "done"]},
    ],
}
FAILING = {
    "name": "break-things",
    "title": "Break things, then undo",
    "risk": "high",
    "steps": [
        {"name": "Works", "kind": "exec", "argv": ["/bin/echo", "step one"]},
        {"name": "Fails", "kind": "exec", "argv": ["/bin/false"]},
        {"name": "Never runs", "kind": "exec", "argv": ["/bin/echo", "unreachable"]},
    ],
    "rollback": [{"name": "Undo", "kind": "exec", "argv": ["/bin/echo", "undone"]}],
}
CHECKS_FIRST = {
    "name": "check-then-change",
    "title": "Check, then change",
    "risk": "low",
    "steps": [
        {"name": "Look", "kind": "exec", "argv": ["/bin/echo", "looking"], "read_only": True},
        {"name": "Check", "kind": "exec", "argv": ["/bin/false"], "read_only": True},
        {"name": "Change", "kind": "exec", "argv": ["/bin/echo", "changed"]},
    ],
    "rollback": [{"name": "Undo", "kind": "exec", "argv": ["/bin/echo", "undone"]}],
}
CHANGE_FAILS = {
    "name": "change-fails",
    "title": "A change that fails",
    "risk": "low",
    "steps": [
        {"name": "Look", "kind": "exec", "argv": ["/bin/echo", "looking"], "read_only": True},
        {"name": "Change", "kind": "exec", "argv": ["/bin/false"]},
    ],
    "rollback": [{"name": "Undo", "kind": "exec", "argv": ["/bin/echo", "undone"]}],
}
WAITS = {
    "name": "wait-a-while",
    "title": "Wait a while",
    "risk": "low",
    "steps": [
        {"name": "Wait", "kind": "wait", "seconds": 30},
        {"name": "After", "kind": "exec", "argv": ["/bin/echo", "after"]},
    ],
}


LISTS = {
    "name": "delete-rotated",
    "title": "Delete rotated logs",
    "risk": "low",
    "steps": [
        {
            "name": "Delete them",
            "kind": "exec",
            "argv": ["/usr/bin/printf", "deleted %s\\n", "a.1.gz", "b.1.gz", "c.1.gz", "d.1.gz"],
        },
        {"name": "Check the fence", "kind": "manual", "prompt": "Is the old primary fenced?"},
        {"name": "After", "kind": "exec", "argv": ["/bin/echo", "after"]},
    ],
}
ONCE = {
    "name": "once-an-hour",
    "title": "Only once an hour",
    "risk": "low",
    "policy": {"max_runs_per_hour": 1},
    "steps": [{"name": "Echo", "kind": "exec", "argv": ["/bin/echo", "once"]}],
}
ONCE_APPROVED = {
    "name": "once-approved",
    "title": "Once an hour, approved",
    "risk": "medium",
    "policy": {"max_runs_per_hour": 1},
    "steps": [{"name": "Echo", "kind": "exec", "argv": ["/bin/echo", "approved once"]}],
}


@pytest.fixture
async def lookout_with_runbooks(tmp_path: Path) -> AsyncIterator[RunningServer]:
    runbooks = tmp_path / "runbooks"
    runbooks.mkdir()
    for runbook in (GREET, FAILING, WAITS, ONCE, LISTS, ONCE_APPROVED, CHECKS_FIRST, CHANGE_FAILS):
        (runbooks / f"{runbook['name']}.yaml").write_text(yaml.safe_dump(runbook))
    config = tmp_path / "lookout.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "runbooks": {
                    "library": False,
                    "directory": str(runbooks),
                    "execution": {"executables": ["/bin/echo", "/bin/false", "/usr/bin/printf"]},
                }
            }
        )
    )
    settings = Settings(data_dir=tmp_path / "data", port=free_port(), config=config)
    server, task, running = await start_server(settings)
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


def text_of(message: dict[str, Any]) -> str:
    parts = []
    for block in message["blocks"]:
        if block["type"] in ("text", "context"):
            parts.append(block["text"])
        elif block["type"] == "fields":
            parts.extend(f"{f['label']}: {f['value']}" for f in block["fields"])
        elif block["type"] == "actions":
            parts.extend(f"[{b['label']}]" for b in block["buttons"])
    return "\n".join(parts)


async def run_message(server: RunningServer, client: httpx.AsyncClient, ref: str) -> dict[str, Any]:
    """The run's one message, in the incident's thread (root m-1)."""
    await server.lookout.notifier.flush()
    thread = await client.get(
        "/console/api/messages", params={"channel": "#incidents", "thread": "m-1"}
    )
    messages: list[dict[str, Any]] = thread.json()
    found = [m for m in messages if m["author_kind"] == "bot" and f"**{ref} · " in text_of(m)]
    assert len(found) == 1, [text_of(m) for m in messages]
    return found[0]


async def finished(server: RunningServer, run_id: int) -> None:
    await asyncio.wait_for(server.lookout.runs.wait(run_id), timeout=20)


async def test_run_approve_progress_done(lookout_with_runbooks: RunningServer) -> None:
    server = lookout_with_runbooks
    async with server.client() as client:
        await client.post("/webhooks/alertmanager", json=storm_payload(1, "checkout"))
        await server.lookout.notifier.flush()
        suggested = await say(client, "/lookout runbooks --incident INC-1")
        assert "greet-service" in str(suggested["blocks"])
        planned = await say(client, "/lookout run greet-service --incident INC-1")
        assert planned["ephemeral"] is True
        assert planned["text"] == (
            "R-1 · Greet a service, waiting for a responder to approve; progress in the thread "
            "of INC-1."
        )
        message = await run_message(server, client, "R-1")
        shown = text_of(message)
        assert "waiting for a responder to approve" in shown
        assert "service = `checkout` — label service of Alert0" in shown
        assert "○ 1. Say hello: /bin/echo hello checkout" in shown  # the service label filled it
        assert "[Approve]" in shown and "[Reject]" in shown
        approved = await say(client, "/lookout approve R-1")  # medium risk: one person confirms
        assert approved["text"] == "Approved R-1 — starting."
        await finished(server, 1)
        done = await run_message(server, client, "R-1")
        assert done["id"] == message["id"]  # edited in place, not re-posted
        shown = text_of(done)
        assert "✅ succeeded" in shown
        assert "✓ 1. Say hello" in shown and "`hello checkout`" in shown
        assert "✓ 2. Say done" in shown and "[Approve]" not in shown
        timeline = text_of((await say(client, "/lookout show INC-1"))["message"])
    assert "Runbook greet-service requested by alice (R-1)" in timeline
    assert "R-1 (greet-service) succeeded" in timeline
    async with server.lookout.database.unit_of_work() as uow:
        audit = list(reversed(await uow.audit.recent(limit=50)))
    # The request and the approval are commands; the start, each step and the outcome are
    # Lookout's, in the requester's name, about the incident.
    runs = [(e.action, e.outcome, e.target) for e in audit if e.action.split(".")[0] == "run"]
    assert runs == [
        ("run", "ok", None),
        ("run.start", "ok", "INC-1"),
        ("run.step", "ok", "INC-1"),
        ("run.step", "ok", "INC-1"),
        ("run.finish", "succeeded", "INC-1"),
    ], runs
    assert [e.outcome for e in audit if e.action == "approve"] == ["ok"]
    # Before any of it: the config this process started with, and the first runbook sync.
    assert [(e.platform, e.action) for e in audit[:2]] == [
        ("system", "config.load"),
        ("system", "runbooks.sync"),
    ]
    assert audit[1].detail["loaded"] > 0 and audit[1].detail["problems"] == []
    steps = [e for e in audit if e.action == "run.step"]
    assert [(e.user_id, e.detail["run"], e.detail["number"]) for e in steps] == [
        ("alice", "R-1", 1),
        ("alice", "R-1", 2),
    ]


async def test_two_person_rule_failure_and_rollback(lookout_with_runbooks: RunningServer) -> None:
    server = lookout_with_runbooks
    async with server.client() as client:
        await client.post("/webhooks/alertmanager", json=storm_payload(1, "checkout"))
        await say(client, "/lookout run break-things --incident INC-1")
        own = await say(client, "/lookout approve R-1")
        assert own["text"] == (
            "You cannot approve R-1: break-things is high risk: a second person approves."
        )
        second = await say(client, "/lookout approve R-1", user="bob")
        assert second["text"] == "Approved R-1 — starting."
        await finished(server, 1)
        shown = text_of(await run_message(server, client, "R-1"))
    assert "↩️ failed, rolled back" in shown
    assert "✓ 1. Works" in shown and "✗ 2. Fails" in shown
    assert "Never runs" not in shown.split("rolled back", 1)[1].split("○")[0]
    assert "✓ rollback 1. Undo" in shown
    assert "Step 2 (Fails) failed" in shown


async def test_a_rollback_undoes_only_what_ran(lookout_with_runbooks: RunningServer) -> None:
    """Rollback runs once a step that changes something has started (even if that step is
    the one that failed), never after read-only steps alone."""
    server = lookout_with_runbooks
    async with server.client() as client:
        await client.post("/webhooks/alertmanager", json=storm_payload(1, "checkout"))
        await say(client, "/lookout run check-then-change --incident INC-1")
        await finished(server, 1)
        await say(client, "/lookout run change-fails --incident INC-1")
        await finished(server, 2)
        checked = text_of(await run_message(server, client, "R-1"))
        changed = text_of(await run_message(server, client, "R-2"))
        timeline = text_of((await say(client, "/lookout show INC-1"))["message"])
    assert "❌ failed" in checked and "✗ 2. Check" in checked
    assert "Undo" not in checked
    assert (
        "Step 2 (Check) failed: exit status 1. Nothing to roll back: no step that changes "
        "anything ran." in checked
    )
    assert "↩️ failed, rolled back" in changed and "✓ rollback 1. Undo" in changed
    assert "R-1 (check-then-change) failed; nothing to roll back" in timeline
    assert "R-2 (change-fails) rolled back" in timeline


async def test_cancel_between_steps_and_reject(lookout_with_runbooks: RunningServer) -> None:
    server = lookout_with_runbooks
    async with server.client() as client:
        await client.post("/webhooks/alertmanager", json=storm_payload(1, "checkout"))
        started = await say(client, "/lookout run wait-a-while --incident INC-1")
        assert started["text"].startswith("R-1 · Wait a while, starting")
        await asyncio.sleep(0.5)
        assert (await say(client, "/lookout cancel R-1"))["text"] == (
            "Stopping R-1 after its current step."
        )
        await finished(server, 1)
        shown = text_of(await run_message(server, client, "R-1"))
        assert "⏹ cancelled" in shown and "After" not in shown.split("cancelled", 1)[1]
        await say(client, "/lookout run greet-service service=search --incident INC-1")
        rejected = await say(client, "/lookout reject R-2 not during the freeze", user="bob")
        assert rejected["text"] == "Rejected R-2."
        shown = text_of(await run_message(server, client, "R-2"))
    assert "🚫 rejected" in shown and "Rejected by bob: not during the freeze" in shown


async def test_bad_requests_get_one_sentence(lookout_with_runbooks: RunningServer) -> None:
    async with lookout_with_runbooks.client() as client:
        unknown = await say(client, "/lookout run greet-servce")
        missing = await say(client, "/lookout run greet-service")
        injected = await say(client, "/lookout run greet-service 'service=x; rm -rf /'")
        malformed = await say(client, "/lookout run greet-service service")
        dry = await say(client, "/lookout run greet-service service=api --dry-run")
    assert unknown["text"] == "There is no runbook `greet-servce`. Did you mean `greet-service`?"
    assert missing["text"].startswith(
        "**Greet a service** (`greet-service`) needs 1 more parameter"
    )
    [form] = [block for block in missing["blocks"] if block["type"] == "form"]
    assert form["command"] == "run greet-service"
    assert [field["name"] for field in form["inputs"]] == ["service"]
    assert injected["text"].startswith(
        "**Greet a service** (`greet-service`) needs a valid value for 1 parameter to run:\n"
        "• **service** ('x; rm -rf /' does not match"
    )
    assert malformed["text"] == "`service` is not a parameter; write them as key=value."
    assert "📝 dry run: nothing was executed" in text_of({"blocks": dry["blocks"]})
    assert "○ 1. Say hello: /bin/echo hello api" in text_of({"blocks": dry["blocks"]})


async def test_viewers_cannot_run_and_the_rate_limit_holds(
    lookout_with_runbooks: RunningServer,
) -> None:
    server = lookout_with_runbooks
    async with server.client() as client:
        await say(client, "/lookout help", user="victor")
        async with server.lookout.database.unit_of_work() as uow:
            await uow.users.set_role(platform="console", platform_user_id="victor", role="viewer")
        refused = await say(client, "/lookout run once-an-hour", user="victor")
        first = await say(client, "/lookout run once-an-hour")
        await finished(server, 1)
        again = await say(client, "/lookout run once-an-hour")
    assert refused["text"] == (
        "`run` needs the responder role and you are a viewer; ask a Lookout admin for access."
    )
    assert first["text"].startswith("R-1 · Only once an hour, starting")
    assert again["text"].startswith(
        "once-an-hour already ran 1 time in the last hour (limit 1); try again in "
    )


async def test_the_hourly_limit_counts_starts_and_a_refused_start_is_no_failure(
    lookout_with_runbooks: RunningServer,
) -> None:
    """Two requests wait for approval at once; the limit (1 an hour) lets the first start and
    refuses the second when it would start. The refusal shows on its card without waiting for
    an idle pass, and does not count against the runbook's success rate."""
    server = lookout_with_runbooks
    async with server.client() as client:
        await client.post("/webhooks/alertmanager", json=storm_payload(1, "checkout"))
        await server.lookout.notifier.flush()
        first = await say(client, "/lookout run once-approved --incident INC-1")
        second = await say(client, "/lookout run once-approved --incident INC-1")
        assert "waiting for a responder to approve" in first["text"]
        assert "waiting for a responder to approve" in second["text"]  # pending: not counted
        await say(client, "/lookout approve R-1", user="bob")
        await finished(server, 1)
        await say(client, "/lookout approve R-2", user="bob")
        await finished(server, 2)

        async def refused_card() -> str:  # no flush: the refusal wakes the notifier itself
            while True:
                thread = await client.get(
                    "/console/api/messages", params={"channel": "#incidents", "thread": "m-1"}
                )
                for message in thread.json():
                    shown = text_of(message)
                    if "**R-2 · " in shown and "already ran 1 time" in shown:
                        return shown
                await asyncio.sleep(0.05)

        shown = await asyncio.wait_for(refused_card(), timeout=3)
        listed = await say(client, "/lookout runbooks")
        timeline = text_of((await say(client, "/lookout show INC-1"))["message"])
    assert "✅ succeeded" not in shown and "once-approved already ran 1 time" in shown
    [row] = [r for r in listed["blocks"][1]["rows"] if r[0] == "once-approved"]
    assert row[-1] == "1/1 (100%)"  # R-2 never started: it says nothing of the runbook
    assert "R-2 did not start: once-approved already ran 1 time" in timeline


async def test_a_run_cut_short_by_a_restart_is_interrupted_not_lost(tmp_path: Path) -> None:
    runbooks = tmp_path / "runbooks"
    runbooks.mkdir()
    (runbooks / "wait.yaml").write_text(yaml.safe_dump(WAITS))
    config = tmp_path / "lookout.yaml"
    execution = {"executables": ["/bin/echo"]}
    config.write_text(
        yaml.safe_dump(
            {"runbooks": {"library": False, "directory": str(runbooks), "execution": execution}}
        )
    )
    settings = Settings(data_dir=tmp_path / "data", port=free_port(), config=config)
    server, task, running = await start_server(settings)
    async with running.client() as client:
        started = await say(client, "/lookout run wait-a-while")
        assert started["text"].startswith("R-1 · Wait a while, starting")
        await asyncio.sleep(0.3)
    server.should_exit = True  # stop while the run waits in its first step
    await asyncio.wait_for(task, timeout=10)
    server, task, running = await start_server(settings)
    try:
        async with running.lookout.database.unit_of_work() as uow:
            run = await uow.runs.get(run_id=1)
        assert run is not None and run.status == "interrupted"
        assert run.detail == "Lookout stopped while this run was under way."
        await running.lookout.notifier.flush()
        async with running.client() as client:
            posted = await client.get("/console/api/messages", params={"channel": "#incidents"})
        [card] = [m for m in posted.json() if "**R-1 · " in text_of(m)]
        shown = text_of(card)
        assert "⚠️ interrupted" in shown
        assert "⚠ 1/2. Wait — interrupted: it may or may not have finished" in shown
        assert "running…" not in shown and "[Cancel]" not in shown
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=10)


async def test_a_rejected_runbook_file_is_reported_to_admins(tmp_path: Path) -> None:
    runbooks = tmp_path / "runbooks"
    runbooks.mkdir()
    (runbooks / "greet.yaml").write_text(yaml.safe_dump(GREET))
    (runbooks / "broken.yaml").write_text("name: Not A Name\ntitle: broken\nrisk: low\nsteps: []\n")
    config = tmp_path / "lookout.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "routing": {"admin_channel": "#lookout-admins"},
                "runbooks": {"library": False, "directory": str(runbooks)},
            }
        )
    )
    settings = Settings(data_dir=tmp_path / "data", port=free_port(), config=config)
    server, task, running = await start_server(settings)
    try:
        async with running.client() as client:
            listed = await say(client, "/lookout runbooks")
            admins = await client.get(
                "/console/api/messages", params={"channel": "#lookout-admins"}
            )
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=10)
    assert "greet-service" in str(listed["blocks"])  # the good file is offered
    [notice] = admins.json()
    shown = text_of(notice)
    assert "Runbook sync" in shown and "rejected: broken.yaml" in shown
    assert "broken.yaml:1: name: String should match pattern" in shown


async def waiting_for_confirmation(server: RunningServer, run_id: int) -> None:
    for _ in range(200):
        async with server.lookout.database.unit_of_work() as uow:
            run = await uow.runs.get(run_id=run_id)
        if run is not None and run.steps.get("waiting"):
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the run never asked for a confirmation")


async def test_excerpts_count_the_rest_and_the_whole_output_is_kept(
    lookout_with_runbooks: RunningServer,
) -> None:
    server = lookout_with_runbooks
    async with server.client() as client:
        await client.post("/webhooks/alertmanager", json=storm_payload(1, "checkout"))
        started = await say(client, "/lookout run delete-rotated --incident INC-1")
        assert started["text"].startswith("R-1 · Delete rotated logs, starting")
        await waiting_for_confirmation(server, 1)
        shown = text_of(await run_message(server, client, "R-1"))
        assert "✓ 1. Delete them" in shown
        assert "`deleted a.1.gz`\n    `deleted b.1.gz`\n    `deleted c.1.gz`" in shown
        assert "… 1 more line · `run show R-1 1`" in shown
        assert "▶ 2/3. Check the fence — waiting for confirmation: Is the old primary fenced?" in (
            shown
        )
        assert "[Confirm step]" in shown
        confirmed = await say(client, "/lookout confirm R-1 pg-0 is powered off", user="bob")
        assert confirmed["text"] == "Confirmed step 2 of R-1."
        await finished(server, 1)
        done = text_of(await run_message(server, client, "R-1"))
        whole = await say(client, "/lookout run show R-1 1")
        timeline = text_of((await say(client, "/lookout timeline INC-1"))["message"])
    assert "✅ succeeded" in done
    assert "✓ 2. Check the fence — " in done and "confirmed by bob: “pg-0 is powered off”" in done
    assert "[Output]" in done
    text = text_of(whole["message"])
    assert text.startswith("**R-1 · step 1 · Delete them** — ✓ ok, 4 lines")
    for name in ("a", "b", "c", "d"):
        assert f"`deleted {name}.1.gz`" in text
    assert "R-1 step 2 (Check the fence) confirmed by bob: pg-0 is powered off" in timeline


async def test_a_cancel_reason_stays_on_the_card(lookout_with_runbooks: RunningServer) -> None:
    server = lookout_with_runbooks
    async with server.client() as client:
        await client.post("/webhooks/alertmanager", json=storm_payload(1, "checkout"))
        await say(client, "/lookout run wait-a-while --incident INC-1")
        await asyncio.sleep(0.5)
        await say(client, "/lookout cancel R-1 the database came back", user="bob")
        await finished(server, 1)
        shown = text_of(await run_message(server, client, "R-1"))
    assert "⏹ cancelled" in shown
    assert "Cancelled by bob: the database came back" in shown
    assert "stopping after the current step" not in shown
