"""`similar`: past incidents ranked by service, alerts and title, with the fix that worked."""

from __future__ import annotations

from skills.contract import Actions
from tests.skills.conftest import Harness, make_alert, text_of


async def test_similar_ranks_by_service_and_alerts_and_shows_the_fix(harness: Harness) -> None:
    ingest = harness.ingestor.ingest
    await ingest(
        [make_alert("HighErrorRate", "checkout"), make_alert("LatencyHigh", "checkout", minutes=1)]
    )
    await harness.say("resolve INC-1 rolled back checkout v2.31")
    harness.clock.advance(hours=2)
    await ingest([make_alert("DiskFull", "logging", "warning", 120)])
    await harness.say("resolve INC-2 rotated logs")
    await ingest([make_alert("HighErrorRate", "payments", "critical", 121)])
    await harness.say("resolve INC-3 restarted the payments pods")
    harness.clock.advance(hours=2)
    await ingest([make_alert("HighErrorRate", "checkout", "critical", 240, pod="b")])
    reply = await harness.say("similar INC-4")
    text = text_of(reply)
    assert reply.incident_id == 4
    first, second = text.index("INC-1 · checkout"), text.index("INC-3 · payments")
    assert first < second  # same service and alert beats same alert alone
    assert "Why: same service checkout; 1 alert in common (HighErrorRate)" in text
    assert "Fix: _Resolved by alice (MTTR 0 s): rolled back checkout v2.31_" in text
    assert "INC-2" not in text  # nothing in common with a full disk
    buttons = next(b for b in reply.blocks if isinstance(b, Actions)).buttons
    assert [b.command for b in buttons] == ["show INC-1", "show INC-3"]


async def test_nothing_similar_says_so(harness: Harness) -> None:
    await harness.ingestor.ingest([make_alert("HighErrorRate", "checkout")])
    assert text_of(await harness.say("similar INC-1")) == (
        "No past incident looks like INC-1 (same service, alerts or title)."
    )
    await harness.ingestor.ingest([make_alert("DiskFull", "logging", "warning", 1)])
    assert "No past incident looks like INC-2" in text_of(
        await harness.say("similar", incident_id=2)
    )
