"""Each opening of an incident is an episode with its own MTTA and MTTR; merge and split keep
titles, causes and figures true (SQLite and PostgreSQL)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from tests.skills.conftest import Harness, make_alert, text_of


async def test_a_reopened_incident_measures_its_new_episode(both_harness: Harness) -> None:
    world = both_harness
    first = make_alert("PostgresDown", "postgres", minutes=9)
    await world.ingestor.ingest([first])
    world.clock.advance(minutes=4)
    await world.say("ack INC-1", user="sam")
    world.clock.advance(minutes=10)
    await world.ingestor.ingest([replace(first, status="resolved", ends_at=world.clock.now)])
    world.clock.advance(minutes=2)
    await world.ingestor.ingest([replace(first, starts_at=world.clock.now)])  # it fires again
    world.clock.advance(minutes=1)
    reply = text_of(await world.say("ack INC-1", user="kim"))
    assert "time to acknowledge 1 min" in reply or "time to acknowledge 60 s" in reply
    async with world.database.unit_of_work() as uow:
        episodes = await uow.episodes.of_incident(incident_id=1)
    assert [(e.number, e.acknowledged_by, e.resolution) for e in episodes] == [
        (1, "sam", "alerts"),
        (2, "kim", None),
    ]
    assert episodes[0].acknowledged_at is not None
    assert episodes[0].acknowledged_at - episodes[0].opened_at == timedelta(minutes=4)
    stats = text_of(await world.say("stats"))
    assert "1 (1 reopened)" in stats
    assert "MTTA p50 / p90: 1 min / 4 min (2 acknowledged)" in stats


async def test_merge_refuses_incidents_days_apart_without_force(both_harness: Harness) -> None:
    world = both_harness
    old = make_alert("DiskFull", "reports", minutes=0)
    await world.ingestor.ingest([old])
    world.clock.advance(minutes=30)
    await world.ingestor.ingest([replace(old, status="resolved", ends_at=world.clock.now)])
    world.clock.advance(days=9)
    await world.ingestor.ingest(
        [replace(make_alert("HighLatency", "checkout", "warning"), starts_at=world.clock.now)]
    )
    refused = text_of(await world.say("merge INC-2 INC-1"))
    assert "9 d" in refused and "`--force`" in refused
    forced = text_of(await world.say("merge INC-2 INC-1 --force"))
    assert forced.startswith("🔗 Merged INC-1 into **INC-2**")
    async with world.database.unit_of_work() as uow:
        target = await uow.incidents.get(incident_id=2)
    assert target is not None
    # The old critical alert does not take over the title, severity or root cause.
    assert (target.title, target.severity, target.service) == (
        "checkout: HighLatency",
        "warning",
        "checkout",
    )


async def test_split_off_resolved_alerts_are_resolved_by_their_alerts(
    both_harness: Harness,
) -> None:
    """Splitting already-resolved alerts used to make an incident "resolved by bob after 0 s"
    and pull MTTR p50 to 0 s."""
    world = both_harness
    cause = make_alert("PostgresDown", "postgres", minutes=0)
    gone = make_alert("SlowReports", "postgres", "warning", minutes=1)
    await world.ingestor.ingest([cause, gone])
    world.clock.advance(minutes=2)
    await world.ingestor.ingest([replace(gone, status="resolved", ends_at=world.clock.now)])
    world.clock.advance(minutes=20)
    await world.say("ack INC-1", user="bob")
    reply = text_of(await world.say("split INC-1 SlowReports", user="bob"))
    assert "into **INC-2**" in reply
    async with world.database.unit_of_work() as uow:
        split_off = await uow.incidents.get(incident_id=2)
        [episode] = await uow.episodes.of_incident(incident_id=2)
    assert split_off is not None
    assert (split_off.status, split_off.resolved_by) == ("resolved", "Alertmanager")
    assert (episode.resolution, episode.counted) == ("split", False)
    world.clock.advance(minutes=8)
    await world.say("resolve INC-1", user="bob")
    stats = text_of(await world.say("stats"))
    assert "MTTR p50 / p90: 30 min / 30 min (1 resolved)" in stats
