"""The runbook journey through the dispatcher: suggestions that fit and say why, parameters
from the incident with their sources, every missing one asked at once with a form, a plan one
click from a run, and a complete record (reasons, confirmations, whole outputs)."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import TypeVar
from urllib.parse import quote

import pytest
import yaml

from core.topology import Service, Topology
from runbooks.catalog import RunbookCatalog
from runbooks.config import ExecutionConfig
from runbooks.executor import Executor
from runbooks.loader import LoadResult, load_directory, load_library
from skills.catalog import default_registry
from skills.context import SkillTools
from skills.contract import Actions, Actor, Context, Conversation, Fields, File, Form, Reply, Text
from skills.dispatcher import AccessPolicy, Dispatcher, Outcome
from skills.views.run_card import run_message
from tests.skills.conftest import Harness, make_alert, text_of

BlockT = TypeVar("BlockT")

FAILOVER = {
    "name": "pg-failover",
    "title": "Fail over PostgreSQL",
    "risk": "high",
    "triggers": [{"alerts": ["Postgres*Down"]}, {"metrics": ["pg_up"]}],
    "parameters": [
        {"name": "cluster", "type": "string", "label": ["cluster"]},
        {
            "name": "primary",
            "type": "string",
            "label": "instance",
            "label_pattern": "^([^:]+)",
        },
        {"name": "candidate", "type": "enum", "values": ["pg-1", "pg-2"]},
        {"name": "reason", "type": "string", "description": "why, for the record"},
    ],
    "steps": [
        {"name": "Promote", "kind": "exec", "argv": ["/bin/echo", "promote", "{{candidate}}"]},
        {"name": "Check", "kind": "exec", "argv": ["/bin/echo", "{{cluster}}", "{{primary}}"]},
    ],
}
# The same triggers, so only past success tells the two apart.
FAILOVER_OLD = {**FAILOVER, "name": "pg-failover-old", "title": "Fail over (old way)"}
ONCE = {
    "name": "once-an-hour",
    "title": "Only once an hour",
    "risk": "medium",
    "policy": {"max_runs_per_hour": 1},
    "steps": [{"name": "Echo", "kind": "exec", "argv": ["/bin/echo", "once"]}],
}


def expression_url(expression: str) -> str:
    return f"http://prometheus:9090/graph?g0.expr={quote(expression, safe='')}&g0.tab=1"


class Journey:
    def __init__(
        self,
        harness: Harness,
        dispatcher: Dispatcher,
        outcomes: list[Outcome],
        runbooks: LoadResult,
    ):
        self.harness = harness
        self.dispatcher = dispatcher
        self.outcomes = outcomes
        self.runbooks = runbooks  # what the catalog offers; a test may change it (a sync)

    async def say(self, text: str, user: str = "alice", incident_id: int | None = None) -> Reply:
        actor = Actor(platform="test", user_id=user, display_name=user)
        conversation = Conversation("test", "#incidents", incident_id=incident_id)
        return await self.dispatcher.run(text, actor=actor, conversation=conversation)


@pytest.fixture
async def journey(harness: Harness, tmp_path: Path) -> Journey:
    folder = tmp_path / "runbooks"
    folder.mkdir()
    for book in (FAILOVER, FAILOVER_OLD, ONCE):
        (folder / f"{book['name']}.yaml").write_text(yaml.safe_dump(book))
    library = load_library()
    mine = load_directory(folder)
    merged = LoadResult(
        runbooks={**library.runbooks, **mine.runbooks}, sources={**library.sources, **mine.sources}
    )
    tools = SkillTools(
        runbooks=RunbookCatalog(library=merged),
        planner=Executor(ExecutionConfig(executables=["/bin/echo"]), environ=os.environ),
    )
    topology = Topology(
        [
            Service("postgres-primary", type="postgresql"),
            Service("checkout", depends_on=("postgres-primary",)),
        ]
    )
    outcomes: list[Outcome] = []

    async def finished(outcome: Outcome) -> None:
        outcomes.append(outcome)

    dispatcher = Dispatcher(
        registry=default_registry(),
        database=harness.database,
        access=AccessPolicy(),
        clock=harness.clock,
        tools=tools,
        topology=lambda: topology,
        on_finished=finished,
    )
    down = make_alert("PostgresDown", "postgres-primary", cluster="prod_eu1", instance="pg-0:9187")
    await harness.ingestor.ingest(
        [
            replace(down, generator_url=expression_url("pg_up == 0")),
            make_alert("PostgresConnectionsExhausted", "postgres-primary", minutes=1),
        ]
    )
    return Journey(harness, dispatcher, outcomes, merged)


async def record_outcomes(harness: Harness, runbook: str, *statuses: str) -> None:
    """Past real runs of `runbook` that finished with `statuses`."""
    async with harness.database.unit_of_work() as uow:
        for status in statuses:
            run = await uow.runs.create(
                runbook=runbook,
                version="v1",
                title=runbook,
                risk="high",
                arguments={},
                incident_id=None,
                requested_by="test:sam",
                requested_by_name="sam",
                platform="test",
                channel="#ops",
                thread=None,
                status=status,
                approvals_needed=0,
                dry_run=False,
                plan=[],
                now=harness.clock.now,
            )
            run.started_at = harness.clock.now


def blocks_of(reply: Reply, kind: type[BlockT]) -> list[BlockT]:
    return [block for block in reply.blocks if isinstance(block, kind)]


async def test_suggestions_rank_by_fit_then_past_success_and_say_why(journey: Journey) -> None:
    await record_outcomes(journey.harness, "pg-failover", "succeeded", "succeeded", "succeeded")
    await record_outcomes(journey.harness, "pg-failover-old", "failed", "rolled_back")
    reply = await journey.say("runbooks --incident INC-1")
    [table] = [block for block in reply.blocks if hasattr(block, "rows")]
    names = [row[0] for row in table.rows]
    # The library's runbook also knows PostgreSQL services by type: it fits best, even though
    # it cannot run here; then the two equal fits, the one that worked first.
    assert names == ["failover-postgresql-replica", "pg-failover", "pg-failover-old"]
    why = {row[0]: row[2] for row in table.rows}
    assert why["pg-failover"] == (
        "alert PostgresDown matches Postgres\\*Down, its rule queries pg\\_up, "
        "on the probable root cause"
    )
    assert why["failover-postgresql-replica"].startswith(
        "alert PostgresDown matches Postgres\\*Down, its rule queries pg\\_up, "
        "postgres-primary is a postgresql service"
    )
    worked = {row[0]: row[4] for row in table.rows}
    assert worked["pg-failover"] == "3/3 (100%)" and worked["pg-failover-old"] == "0/2 (0%)"
    here = {row[0]: row[5] for row in table.rows}
    assert here["failover-postgresql-replica"] == "not runnable here: patronictl not allowed"
    [actions] = blocks_of(reply, Actions)
    assert actions.buttons[1].command == "run pg-failover --incident INC-1 --dry-run"
    assert reply.incident_id == 1


async def test_missing_parameters_are_asked_for_at_once_with_where_the_rest_came_from(
    journey: Journey,
) -> None:
    reply = await journey.say("run pg-failover --incident INC-1 --dry-run")
    assert reply.visibility == "ephemeral"
    assert text_of(reply).startswith(
        "**Fail over PostgreSQL** (`pg-failover`) needs 2 more parameters to plan:\n"
        "• **candidate** — one of pg-1, pg-2\n"
        "• **reason** — why, for the record"
    )
    [fields] = blocks_of(reply, Fields)
    assert fields.fields == (
        ("cluster", "prod\\_eu1 (label cluster of PostgresDown)"),
        ("primary", "pg-0 (label instance of PostgresDown)"),
    )
    [form] = blocks_of(reply, Form)
    assert form.command == "run pg-failover --incident INC-1 --dry-run"
    assert [(field.name, field.choices) for field in form.inputs] == [
        ("candidate", ("pg-1", "pg-2")),
        ("reason", ()),
    ]
    assert form.submit == "Plan"


async def test_a_plan_is_one_click_from_a_run_that_asks_for_approval_at_once(
    journey: Journey,
) -> None:
    planned = await journey.say(
        "run pg-failover --incident INC-1 --dry-run candidate=pg-1 reason=primary-lost"
    )
    shown = planned.markdown_text
    assert "📝 dry run: nothing was executed" in shown
    assert "• cluster = `prod\\_eu1` — label cluster of PostgresDown" in shown
    assert "• candidate = `pg-1` — given" in shown
    assert "○ 1. Promote: /bin/echo promote pg-1" in shown
    [actions] = blocks_of(planned, Actions)
    [run_this] = actions.buttons
    assert (run_this.label, run_this.command) == ("Run this", "run --plan R-1")

    requested = await journey.say(run_this.command)
    assert text_of(requested) == (
        "R-2 · Fail over PostgreSQL, waiting for a second person to approve; progress in the "
        "thread of INC-1."
    )
    # The card is a tracked message: the notifier is woken at once, not at its next pass.
    assert journey.outcomes[-1].messages_changed
    async with journey.harness.database.unit_of_work() as uow:
        run = await uow.runs.get(run_id=2)
        assert run is not None
        card = run_message(run).markdown_text
    assert "⏳ waiting for a second person to approve" in card
    assert "Plan: as shown by dry run R-1" in card
    assert "• primary = `pg-0` — label instance of PostgresDown" in card
    again = await journey.say("run --plan R-1", user="bob")
    assert text_of(again) == "R-1 was already requested as R-2."
    changed = await journey.say("run --plan R-1 candidate=pg-2")
    assert text_of(changed).startswith("`--plan` runs a plan as it was shown")


async def test_a_plan_whose_runbook_changed_since_is_not_run(journey: Journey) -> None:
    await journey.say("run pg-failover --incident INC-1 --dry-run candidate=pg-1 reason=lost")
    book = journey.runbooks.runbooks["pg-failover"]
    step = book.steps[0].model_copy(update={"argv": ["/bin/echo", "promote", "--force"]})
    journey.runbooks.runbooks["pg-failover"] = book.model_copy(update={"steps": [step]})
    refused = await journey.say("run --plan R-1")
    assert text_of(refused) == (
        "pg-failover changed since R-1 was planned; plan it again to see what it would run now."
    )


async def test_a_dry_run_shows_what_this_lookout_cannot_run_and_offers_no_run(
    journey: Journey,
) -> None:
    reply = await journey.say(
        "run restart-kubernetes-deployment namespace=shop deployment=api --dry-run"
    )
    shown = text_of(reply)
    assert "○ 1. Show the deployment: kubectl --namespace=shop get deployment/api" in shown
    assert (
        "⚠ This plan cannot run on this Lookout: 'kubectl' is not an allowed executable here."
        in shown
    )
    assert not blocks_of(reply, Actions)
    real = await journey.say("run restart-kubernetes-deployment namespace=shop deployment=api")
    assert text_of(real) == (
        "Cannot run restart-kubernetes-deployment: 'kubectl' is not an allowed executable here."
    )


async def test_the_hourly_limit_counts_runs_that_started_not_requests(journey: Journey) -> None:
    first = await journey.say("run once-an-hour")
    second = await journey.say("run once-an-hour")
    assert "waiting for a responder to approve" in text_of(first)
    assert "waiting for a responder to approve" in text_of(second)  # nothing started yet
    async with journey.harness.database.unit_of_work() as uow:
        run = await uow.runs.get(run_id=1)
        assert run is not None
        run.status, run.started_at = "succeeded", journey.harness.clock.now
    third = await journey.say("run once-an-hour")
    assert text_of(third).startswith("once-an-hour already ran 1 time in the last hour (limit 1)")


async def test_reject_and_cancel_reasons_reach_the_card_and_the_timeline(journey: Journey) -> None:
    await journey.say("run once-an-hour --incident INC-1")
    await journey.say("run once-an-hour --incident INC-1")
    rejected = await journey.say("reject R-1 don't: it's \"the freeze\"", user="bob")
    cancelled = await journey.say(r"cancel R-2 wrong cluster, see C:\temp\x", user="carol")
    assert text_of(rejected) == "Rejected R-1."
    assert text_of(cancelled) == "Cancelled R-2 before it started."
    assert journey.outcomes[-1].messages_changed
    async with journey.harness.database.unit_of_work() as uow:
        runs = await uow.runs.recent(incident_id=1)
        cards = [text_of(run_message(r)) for r in runs]
    # Reasons are kept exactly as typed: apostrophes, quotes, backslashes.
    assert runs[1].detail == "Rejected by bob: don't: it's \"the freeze\""
    assert (runs[0].detail or "").endswith(r"wrong cluster, see C:\temp\x")
    assert "Cancelled by carol: wrong cluster" in cards[0]
    assert "Rejected by bob: don't" in cards[1]
    timeline = text_of(await journey.say("timeline INC-1"))
    assert "R-1 (once-an-hour) rejected by bob: don't" in timeline
    assert "R-2 (once-an-hour) cancelled by carol: wrong cluster" in timeline


async def test_a_confirmation_shows_who_and_their_comment(journey: Journey) -> None:
    await journey.say("run once-an-hour --incident INC-1")
    async with journey.harness.database.unit_of_work() as uow:
        run = await uow.runs.get(run_id=1)
        assert run is not None
        run.status = "running"
        run.steps = {
            "steps": [],
            "current": {"phase": "steps", "number": 1, "total": 2, "name": "Fence"},
            "waiting": {"phase": "steps", "number": 1, "name": "Fence", "prompt": "Fence pg-0"},
        }
    waiting = await journey.say("run show R-1")
    assert "▶ 1/2. Fence — waiting for confirmation: Fence pg-0" in text_of(waiting)
    assert "To add a comment: `confirm R-1 <what you checked>`." in text_of(waiting)
    confirmed = await journey.say("confirm R-1 pg-0 is powered *off*", user="bob")
    assert text_of(confirmed) == "Confirmed step 1 of R-1."
    async with journey.harness.database.unit_of_work() as uow:
        run = await uow.runs.get(run_id=1)
        assert run is not None
        # What the run records when the step ends (see RunManager).
        run.steps = {
            **run.steps,
            "waiting": None,
            "current": None,
            "steps": [
                {
                    "phase": "steps",
                    "number": 1,
                    "name": "Fence",
                    "status": "ok",
                    "seconds": 12.5,
                    "excerpt": [],
                    "hidden": 0,
                    "manual": True,
                }
            ],
        }
        card = run_message(run).markdown_text
    assert "✓ 1. Fence — 12.5 s · confirmed by bob: “pg-0 is powered \\*off\\*”" in card
    timeline = (await journey.say("timeline INC-1")).markdown_text
    assert "R-1 step 1 (Fence) confirmed by bob: pg-0 is powered \\*off\\*" in timeline


async def test_run_show_gives_a_steps_whole_output_as_a_file_when_long(journey: Journey) -> None:
    await journey.say("run once-an-hour --incident INC-1")
    output = "\n".join(f"deleted /var/log/app/app.log.{n}.gz" for n in range(1, 101))
    async with journey.harness.database.unit_of_work() as uow:
        await uow.runs.save_output(
            run_id=1,
            phase="steps",
            number=1,
            name="Delete them",
            status="ok",
            output=output,
            now=journey.harness.clock.now,
        )
        await uow.runs.save_output(
            run_id=1,
            phase="rollback",
            number=1,
            name="Undo",
            status="ok",
            output="",
            now=journey.harness.clock.now,
        )
    overview = await journey.say("run show R-1")
    shown = text_of(overview)
    assert "✓ 1. Delete them — 100 lines: `run show R-1 1`" in shown
    assert "✓ rollback 1. Undo — no output" in shown
    whole = await journey.say("run show R-1 1")
    text = text_of(whole)
    assert text.startswith("**R-1 · step 1 · Delete them** — ✓ ok, 100 lines")
    assert "`deleted /var/log/app/app.log.30.gz`" in text
    assert "app.log.31.gz" not in text
    assert "… 70 more lines: the whole output is R-1-1.txt" in text
    [attached] = blocks_of(whole, File)
    assert attached.name == "R-1-1.txt" and attached.content.decode() == output
    assert whole.incident_id == 1
    missing = await journey.say("run show R-1 2")
    assert text_of(missing) == "R-1 has 1 step; `run show R-1 1` shows it."
    bad = await journey.say("run show R-1 two")
    assert text_of(bad).startswith("`two` is not a step.")


async def test_an_interrupted_run_says_so_instead_of_running(journey: Journey) -> None:
    await journey.say("run once-an-hour --incident INC-1")
    async with journey.harness.database.unit_of_work() as uow:
        run = await uow.runs.get(run_id=1)
        assert run is not None
        run.status = "interrupted"
        run.detail = "Lookout restarted while this run was under way; check what it did."
        run.steps = {
            "steps": [],
            "current": {"phase": "steps", "number": 1, "total": 1, "name": "Echo"},
        }
        card = run_message(run)
    shown = text_of(card)
    assert "— ⚠️ interrupted" in shown
    assert "⚠ 1/1. Echo — interrupted: it may or may not have finished" in shown
    assert "running…" not in shown
    assert next(b.text for b in blocks_of(card, Context)).startswith("Lookout restarted")
    assert next(t.text for t in blocks_of(card, Text)).startswith("**R-1 · Only once an hour**")


async def test_a_parameter_given_twice_or_unknown_is_refused_by_name(journey: Journey) -> None:
    twice = await journey.say(
        "run pg-failover candidate=pg-1 candidate=pg-2 reason=lost --incident INC-1"
    )
    assert text_of(twice) == (
        "`candidate` is given twice (`pg-1` and `pg-2`); give each parameter once."
    )
    # Unknown, even when the rest of the run only lacks parameters.
    wrong_case = await journey.say("run pg-failover Candidate=pg-1 --incident INC-1")
    assert text_of(wrong_case) == (
        "`Candidate` is not a parameter of pg-failover (did you mean `candidate`?); its "
        "parameters: cluster, primary, candidate, reason."
    )
    two = await journey.say("run pg-failover Candidate=pg-1 size=big reason=x")
    assert text_of(two).startswith(
        "`Candidate` (did you mean `candidate`?) and `size` are not parameters of pg-failover;"
    )
    async with journey.harness.database.unit_of_work() as uow:
        assert await uow.runs.recent(incident_id=1) == []


async def test_a_flag_value_is_read_strictly(journey: Journey) -> None:
    base = "run pg-failover candidate=pg-1 reason=lost --incident INC-1"
    maybe = await journey.say(f"{base} --dry-run=maybe")
    assert text_of(maybe).startswith(
        "`--dry-run` is on or off: write `--dry-run` alone, or `--dry-run=yes` / `--dry-run=no`"
    )
    assert text_of(maybe).endswith("not `--dry-run=maybe`.")
    planned = await journey.say(f"{base} --dry-run=yes")
    assert "📝 dry run: nothing was executed" in text_of(planned)
    real = await journey.say(f"{base} --dry-run=false")
    assert text_of(real).startswith("R-2 · Fail over PostgreSQL, waiting for a second person")
    async with journey.harness.database.unit_of_work() as uow:
        runs = await uow.runs.recent(incident_id=1)
    assert sorted((r.id, r.dry_run) for r in runs) == [(1, True), (2, False)]


async def test_a_look_alike_dash_in_a_value_is_folded_or_named(journey: Journey) -> None:
    # U+2011 (non-breaking hyphen) and U+2010 (hyphen) look like "-".
    planned = await journey.say(
        "run pg-failover candidate=pg\u20111 reason=lost\u2010primary --dry-run --incident INC-1"
    )
    shown = text_of(planned)
    assert "• candidate = `pg-1` — given" in shown
    assert "○ 1. Promote: /bin/echo promote pg-1" in shown
    refused = await journey.say(
        "run pg-failover candidate=pg\u20113 reason=lost --dry-run --incident INC-1"
    )
    assert (
        "• **candidate** — one of pg-1, pg-2 ('pg\u20113' is not one of pg-1, pg-2; it contains "
        "an unusual character, U+2011 NON-BREAKING HYPHEN)"
    ) in text_of(refused)
    pattern = await journey.say(
        "run restart-kubernetes-deployment namespace=shop deployment=api\u00b7v2 --dry-run"
    )
    assert "it contains an unusual character, U+00B7 MIDDLE DOT" in text_of(pattern)


async def test_run_commands_say_what_state_a_run_is_in_and_what_to_do(journey: Journey) -> None:
    await journey.say("run pg-failover candidate=pg-1 reason=lost --dry-run --incident INC-1")
    plan = "R-1 is a dry run (a plan): nothing of it runs; `run --plan R-1` asks for a real run."
    assert text_of(await journey.say("approve R-1", user="bob")) == plan
    assert text_of(await journey.say("reject R-1", user="bob")) == plan
    assert text_of(await journey.say("run show R-1 99")) == (
        "R-1 has 2 steps; `run show R-1 2` shows the last."
    )
    assert text_of(await journey.say("run show R-1 2")) == (
        "R-1 is a dry run (a plan): none of its steps ran."
    )
    assert text_of(await journey.say("approve")) == "Which run? Write `approve R-12`."
    assert text_of(await journey.say("confirm")) == "Which run? Write `confirm R-12`."
    await journey.say("run --plan R-1")
    async with journey.harness.database.unit_of_work() as uow:
        run = await uow.runs.get(run_id=2)
        assert run is not None
        run.status = "failed"
        run.steps = {"steps": [{"phase": "steps", "number": 1, "name": "Promote"}]}
    finished = "R-2 already finished (failed); "
    assert text_of(await journey.say("approve R-2", user="bob")) == (
        finished + "nothing is waiting for approval."
    )
    assert text_of(await journey.say("confirm R-2")) == (
        finished + "nothing is waiting for a confirmation."
    )
    assert text_of(await journey.say("cancel R-2")) == finished + "there is nothing left to cancel."
    assert text_of(await journey.say("run show R-2 2")) == (
        "Step 2 of R-2 did not run: the run stopped before it (failed)."
    )
    assert text_of(await journey.say("run --plan R-2")) == (
        "R-2 is not a dry run; `run --plan` takes the id of a plan (`run <runbook> … --dry-run`)."
    )
