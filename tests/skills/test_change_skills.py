"""`changes` and `change` through the real dispatcher on a real SQLite file."""

from __future__ import annotations

from datetime import timedelta

from core.changes import ChangeEvent, ChangeKind
from skills.contract import Table
from tests.skills.conftest import NOW, Harness, make_alert, text_of


async def record(harness: Harness, event: ChangeEvent) -> None:
    async with harness.database.unit_of_work() as uow:
        await uow.changes.record(event=event, now=NOW)


def deploy(service: str, minutes_ago: float, version: str = "v2") -> ChangeEvent:
    at = NOW - timedelta(minutes=minutes_ago)
    return ChangeEvent(
        id=f"{service}-{version}",
        kind=ChangeKind.DEPLOYMENT,
        services=(service,),
        started_at=at - timedelta(minutes=2),
        finished_at=at,
        source="webhook",
        version=version,
        author="dana",
    )


async def test_changes_lists_newest_first_and_filters(harness: Harness) -> None:
    await record(harness, deploy("checkout", 30, "v2.3.1"))
    await record(harness, deploy("search", 10, "v9"))
    await record(harness, deploy("checkout", 60 * 5, "v2.3.0"))  # older than 2h
    reply = await harness.say("changes")
    table = next(block for block in reply.blocks if isinstance(block, Table))
    assert [row[1] for row in table.rows] == ["search v9 deployed", "checkout v2.3.1 deployed"]
    only = await harness.say("changes --service checkout --since 1d")
    table = next(block for block in only.blocks if isinstance(block, Table))
    assert [row[1] for row in table.rows] == [
        "checkout v2.3.1 deployed",
        "checkout v2.3.0 deployed",
    ]
    assert "No changes recorded in the last 5m" in text_of(await harness.say("changes --since 5m"))


async def test_a_bad_span_gets_one_plain_sentence(harness: Harness) -> None:
    reply = await harness.say("changes --since soon")
    assert reply.visibility == "ephemeral"
    assert "is not a time span; write it like 15m, 2h, 1d or 1w" in text_of(reply)


async def test_changes_in_an_incident_thread_are_scored(harness: Harness) -> None:
    await harness.ingestor.ingest([make_alert("HighErrorRate", "checkout")])  # at NOW - 10 min
    await record(harness, deploy("checkout", 25, "v2.3.1"))
    await record(harness, deploy("search", 12, "v9"))
    reply = await harness.say("changes", incident_id=1)
    table = next(block for block in reply.blocks if isinstance(block, Table))
    scores = {row[1]: float(row[-1]) for row in table.rows}
    assert scores["checkout v2.3.1 deployed"] > 0.6 > scores["search v9 deployed"]


async def test_a_manual_change_is_recorded_and_weighs_on_an_open_incident(
    harness: Harness,
) -> None:
    harness.clock.now = NOW - timedelta(minutes=20)
    reply = await harness.say("change checkout restarted all pods by hand", user="bob")
    assert (
        text_of(reply)
        == "Recorded: checkout changed by hand by bob — “restarted all pods by hand”."
    )
    harness.clock.now = NOW
    await harness.ingestor.ingest([make_alert("HighErrorRate", "checkout")])
    async with harness.database.unit_of_work() as uow:
        incident = await uow.incidents.get(incident_id=1)
    assert incident is not None and incident.suspect_change is not None
    assert incident.suspect_change["change"]["author"] == "bob"
    listed = await harness.say("changes")
    assert "checkout changed by hand" in str(listed.blocks)


async def test_a_viewer_cannot_record_a_change(harness: Harness) -> None:
    from skills.contract import Role

    await harness.set_role("vic", Role.VIEWER)
    reply = await harness.say("change checkout flipped a flag", user="vic")
    assert "needs the responder role" in text_of(reply)
