"""The knowledge commands through the real dispatcher, on real SQLite, the real model and
Chroma on a temp dir: similar, suggest (and feedback changing it), ask, explain, postmortem,
feedback stats, "Seen before?", and a stale index that answers and says so."""

from __future__ import annotations

import re
from datetime import timedelta

from knowledge.seen_before import SeenBefore
from skills.contract import Actions, Reply
from tests.knowledge.conftest import KnowledgeHarness
from tests.skills.conftest import make_alert, text_of


def buttons(reply: Reply) -> list[str]:
    return [
        b.command for block in reply.blocks if isinstance(block, Actions) for b in block.buttons
    ]


async def past(
    harness: KnowledgeHarness, name: str, service: str, fix: str, minutes: float, **labels: str
) -> int:
    """A resolved incident from one alert; returns its id."""
    result = await harness.ingestor.ingest([make_alert(name, service, minutes=minutes, **labels)])
    incident_id = result.created_incidents[0]
    await harness.say(f"resolve INC-{incident_id} {fix}")
    harness.clock.advance(hours=3)
    return incident_id


async def history(harness: KnowledgeHarness) -> None:
    await past(harness, "HighErrorRate", "checkout", "rolled back checkout v2.31", 0)
    await past(harness, "DiskWillFillIn4Hours", "logging", "rotated the container logs", 200)
    await past(harness, "PostgresConnectionsExhausted", "orders-db", "failed over to pg-1", 400)
    await harness.knowledge.sync.catch_up()


async def test_similar_finds_past_incidents_with_reasons_fix_and_buttons(
    kharness: KnowledgeHarness,
) -> None:
    await history(kharness)
    await kharness.ingestor.ingest([make_alert("HighErrorRate", "checkout", minutes=600, pod="b")])
    reply = await kharness.say("similar INC-4")
    text = text_of(reply)
    assert reply.incident_id == 4
    assert text.index("INC-1 · checkout: HighErrorRate") < text.index("Why:")
    assert "INC-2" not in text  # a full disk has nothing to do with it
    assert "Why: same service checkout; alert in common: HighErrorRate" in text
    assert "Fixed by: _rolled back checkout v2.31_" in text
    assert "show INC-1" in buttons(reply)
    assert "feedback down incident:1 --incident INC-4" in buttons(reply)
    # Free text, in other words than the incident's: found by meaning.
    free = text_of(await kharness.say("similar the database will not take more connections"))
    assert free.index("INC-3") < free.index("INC-1") if "INC-1" in free else "INC-3" in free
    # No word in common, the same meaning: the thesaurus says why.
    other = text_of(await kharness.say("similar pg refusing new sessions"))
    assert "INC-3" in other and "same meaning: pg ≈ db, sessions ≈ connections" in other


async def test_similar_finds_nothing_for_text_that_shares_one_word_by_chance(
    kharness: KnowledgeHarness,
) -> None:
    """Free text needs its words to hold half of what was typed, or a close description:
    one shared word ("disk"), a document's own labels ("Service:") or a word the
    corpus never uses are no reason."""
    await history(kharness)
    for text in (
        "my kitchen sink is full and the disk of my grandmother's oven too",
        "my app",
        "we got paged at 3am",
    ):
        reply = text_of(await kharness.say(f"similar {text}"))
        assert reply.startswith("Nothing in past incidents looks like"), (text, reply)
        assert "≈ Service" not in reply and "(-" not in reply


async def test_a_stale_index_answers_and_says_so(kharness: KnowledgeHarness) -> None:
    await history(kharness)
    await past(kharness, "TLSCertificateExpiringSoon", "api-gateway", "renewed the cert", 700)
    reply = text_of(await kharness.say("similar certificate about to expire"))
    assert "The index is catching up" in reply  # INC-4 is resolved but not indexed yet
    await kharness.knowledge.sync.catch_up()
    reply = text_of(await kharness.say("similar certificate about to expire"))
    assert "catching up" not in reply and "INC-4" in reply


async def test_feedback_changes_the_ranking_of_suggestions(kharness: KnowledgeHarness) -> None:
    await history(kharness)
    await kharness.ingestor.ingest([make_alert("HighErrorRate", "checkout", minutes=600)])
    before = buttons(await kharness.say("suggest INC-4"))
    plans = [b.split()[1] for b in before if b.startswith("run ")]
    assert len(plans) >= 3
    chosen = plans[-1]
    target = f"runbook:{chosen}"
    assert "not tried" in text_of(await kharness.say("suggest INC-4"))
    for user in ("ann", "bob"):
        said = await kharness.say(f"feedback fixed {target} --incident INC-1", user=user)
    assert "already" in text_of(said)  # "fixed" counts once per incident and target
    await kharness.say(f"feedback up {target} --incident INC-4", user="ann")
    await kharness.say(f"feedback up {target} --incident INC-4", user="bob")
    after_reply = await kharness.say("suggest INC-4")
    after = [b.split()[1] for b in buttons(after_reply) if b.startswith("run ")]
    assert after.index(chosen) < plans.index(chosen)
    assert "worked 3/3 times" in text_of(after_reply)
    # A 👎 as the latest word hides it for this kind of incident.
    await kharness.say(f"feedback down {target} --incident INC-4", user="cy")
    hidden = await kharness.say("suggest INC-4")
    assert chosen not in [b.split()[1] for b in buttons(hidden) if b.startswith("run ")]
    assert "1 hidden after a 👎" in text_of(hidden)
    stats = text_of(await kharness.say("feedback stats"))
    assert "Helpful overall: **75%** of 4 ratings (goal ≥ 70%)" in stats


async def test_ask_answers_from_postmortems_with_citations(kharness: KnowledgeHarness) -> None:
    folder = kharness.knowledge.sync.postmortems
    assert folder is not None
    (folder / "orders-db.md").write_text(
        "# Postmortem: orders database out of connections\n\nIncidents: INC-3\n\n"
        "## Root cause\n\nA batch export kept 180 sessions idle in transaction.\n\n"
        "## What fixed it\n\nFailing over to the replica freed every slot at once.\n"
    )
    await history(kharness)
    reply = await kharness.say("ask why did the orders database run out of connections?")
    text = text_of(reply)
    assert "[postmortem:orders-db]" in text or "[INC-3]" in text
    assert ":  [" not in text and "** [" not in text  # every cited passage says something
    assert any(b.startswith("feedback up answer:") for b in buttons(reply))
    # An edited postmortem is indexed again; a deleted one is forgotten.
    (folder / "orders-db.md").write_text("# Postmortem: orders database\n\nRewritten: DNS.\n")
    await kharness.knowledge.sync.catch_up()
    assert kharness.knowledge.index.ids("postmortem:") == ["postmortem:orders-db#0"]
    (folder / "orders-db.md").unlink()
    await kharness.knowledge.sync.catch_up()
    assert kharness.knowledge.index.ids("postmortem:") == []


async def test_explain_cites_its_evidence_or_says_there_is_not_enough(
    kharness: KnowledgeHarness,
) -> None:
    await history(kharness)
    await kharness.ingestor.ingest([make_alert("HighErrorRate", "checkout", minutes=600)])
    text = text_of(await kharness.say("explain INC-4"))
    assert "It looks like INC-1" in text and "[INC-1]" in text
    assert "rolled back checkout v2.31" in text
    # Times are shown like every other time, never as a raw instant.
    assert re.search(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z", text) is None, text
    await kharness.ingestor.ingest([make_alert("QuantumFluxInverted", "teleporter", minutes=601)])
    alone = text_of(await kharness.say("explain INC-5"))
    assert "Not enough evidence" in alone
    assert "cites its source" not in alone  # no sources, so no claim that there are


async def test_postmortem_draft_has_timeline_fix_and_follow_ups(kharness: KnowledgeHarness) -> None:
    await kharness.ingestor.ingest([make_alert("HighErrorRate", "checkout")])
    await kharness.say("ack INC-1", user="sam")
    await kharness.say("note INC-1 follow-up: add a canary check for the coupon client", user="sam")
    await kharness.say("resolve INC-1 rolled back checkout v2.31", user="sam")
    text = text_of(await kharness.say("postmortem INC-1"))
    for part in (
        "# Postmortem: checkout: HighErrorRate (INC-1)",
        "## Timeline (UTC)",
        "| sam | Acknowledged by sam",
        "## What fixed it",
        "rolled back checkout v2.31",
        "- [ ] follow-up: add a canary check for the coupon client (sam)",
    ):
        assert part in text


async def test_seen_before_only_for_a_strong_match(kharness: KnowledgeHarness) -> None:
    await history(kharness)
    await kharness.ingestor.ingest([make_alert("HighErrorRate", "checkout", minutes=600)])
    await kharness.ingestor.ingest([make_alert("QuantumFluxInverted", "teleporter", minutes=601)])
    seen = SeenBefore(kharness.database, kharness.knowledge)
    now = kharness.clock.now
    assert await seen.check_new(now=now) == [4]
    assert await seen.check_new(now=now) == []  # checked once
    async with kharness.database.unit_of_work() as uow:
        strong = await uow.knowledge.hint(incident_id=4)
        weak = await uow.knowledge.hint(incident_id=5)
    assert strong is not None and strong.matched
    assert strong.snapshot["matches"][0]["incident_id"] == 1
    assert weak is not None and not weak.matched
    # Older incidents are not checked (no "Seen before?" for last week's incidents).
    await kharness.ingestor.ingest([make_alert("HighErrorRate", "checkout", minutes=700, x="1")])
    assert await seen.check_new(now=now + timedelta(hours=5)) == []


async def test_sync_is_idempotent_and_drops_reopened_incidents(kharness: KnowledgeHarness) -> None:
    await history(kharness)
    report = await kharness.knowledge.sync.catch_up()
    assert report.indexed == 0 and report.embedded == 0
    assert sorted(kharness.knowledge.index.ids("incident:")) == [
        "incident:1",
        "incident:2",
        "incident:3",
    ]
    await kharness.say("note INC-2 rotation also needed a max-size in daemon.json")
    report = await kharness.knowledge.sync.catch_up()
    assert (report.indexed, report.embedded) == (1, 1)
    async with kharness.database.unit_of_work() as uow:
        row = await uow.incidents.get(incident_id=3)
        assert row is not None
        row.status = "triggered"
        await uow.incidents.add_event(
            incident_id=3, kind="reopened", text="x", at=kharness.clock.now
        )
    report = await kharness.knowledge.sync.catch_up()
    assert report.deleted == 1 and "incident:3" not in kharness.knowledge.index.ids("incident:")
