"""unack and severity against the escalation pass, on SQLite and PostgreSQL: an
acknowledgement taken back starts the policy over from its first level; a severity set by
hand survives later alerts and is what routing follows."""

from __future__ import annotations

from storage.database import Database
from tests.bot.background.paging_harness import paging

TWO_LEVELS = """
escalation:
  policies:
    - name: default
      match: {severity: [critical, error]}
      levels:
        - {after: 0s, notify: ["user:dana"]}
        - {after: 5m, notify: ["user:erin"]}
notify:
  people:
    dana: {name: Dana, slack: U0DANA1}
    erin: {name: Erin, slack: U0ERIN1}
"""


async def test_unack_restarts_escalation_from_the_first_level(database: Database) -> None:
    lookout = await paging(database, TWO_LEVELS)
    await lookout.fire("HighErrorRate", "checkout")
    await lookout.step(seconds=1)
    assert [call[1] for call in lookout.chat.of("dm")] == ["U0DANA1"]
    assert "acknowledged" in (await lookout.say("ack INC-1")).plain_text
    await lookout.step(seconds=1)
    await lookout.step(minutes=10)
    assert [call[1] for call in lookout.chat.of("dm")] == ["U0DANA1"]  # stopped by the ack

    answer = await lookout.say("unack INC-1", who="Dana")
    assert "INC-1 is triggered again (Dana)" in answer.plain_text
    await lookout.step(seconds=1)
    # Level 1 pages again at once, then level 2 after its delay from the unack.
    assert [call[1] for call in lookout.chat.of("dm")] == ["U0DANA1", "U0DANA1"]
    await lookout.step(minutes=4, seconds=50)
    assert len(lookout.chat.of("dm")) == 2
    await lookout.step(seconds=15)
    assert [call[1] for call in lookout.chat.of("dm")] == ["U0DANA1", "U0DANA1", "U0ERIN1"]
    timeline = await lookout.timeline()
    assert "Unacknowledged by Dana (was acknowledged by Ana)" in timeline
    assert any(
        t.startswith("Escalation restarted (acknowledgement taken back): critical")
        for t in timeline
    )
    async with database.unit_of_work() as uow:
        incident = await uow.incidents.get(incident_id=1)
        episodes = await uow.episodes.of_incident(incident_id=1)
    assert incident is not None and incident.status == "triggered"
    assert incident.acknowledged_at is None and episodes[0].acknowledged_at is None

    # Taken again, it stops again; resolved, it cannot be given back.
    await lookout.say("ack INC-1", who="Erin")
    await lookout.step(seconds=1)
    await lookout.say("resolve INC-1", who="Erin")
    refused = await lookout.say("unack INC-1", who="Erin")
    assert refused.plain_text.startswith("INC-1 is resolved, so there is no acknowledgement")
    await lookout.close()


async def test_a_severity_set_by_hand_holds_and_routes(database: Database) -> None:
    lookout = await paging(database, TWO_LEVELS)
    await lookout.fire("DiskFilling", "logging", severity="warning")
    await lookout.step(seconds=1)
    assert lookout.chat.of("dm") == []  # warnings match no policy here
    answer = await lookout.say("severity INC-1 p1", who="Dana")
    assert "INC-1 severity **warning → critical** (Dana)." in answer.plain_text
    await lookout.step(seconds=1)
    assert [call[1] for call in lookout.chat.of("dm")] == ["U0DANA1"]  # a rise pages now
    # Another warning alert joins: the person's severity stays.
    await lookout.fire("DiskSlow", "logging", severity="warning")
    async with database.unit_of_work() as uow:
        incident = await uow.incidents.get(incident_id=1)
        events = await uow.incidents.events(incident_id=1)
    assert incident is not None and incident.severity == "critical"
    assert incident.severity_set_by == "Dana"
    [change] = [e for e in events if e.kind == "severity"]
    assert (change.text, change.actor) == ("Severity warning → critical by Dana", "Dana")
    assert change.data == {"from": "warning", "to": "critical"}
    same = await lookout.say("severity INC-1 critical")
    assert same.plain_text == "INC-1 is already critical."
    await lookout.close()


async def test_owner_columns_round_trip(database: Database) -> None:
    lookout = await paging(database, TWO_LEVELS)
    await lookout.fire("HighErrorRate", "checkout")
    await lookout.say("assign INC-1 me", who="Dana")
    async with database.unit_of_work() as uow:
        [row] = await uow.incidents.find(status="open", limit=5)
    assert (row.owner_platform, row.owner_id, row.owner_name) == ("slack", "UDANA", "Dana")
    cleared = await lookout.say("assign INC-1 nobody", who="Erin")
    assert cleared.plain_text == "INC-1 has no owner now (Erin)."
    unknown = await lookout.say("assign INC-1 @ghost", who="Erin")
    assert "Lookout does not know who `ghost` is here" in unknown.plain_text
    known = await lookout.say("assign INC-1 @dana", who="Erin")  # Dana used Lookout before
    assert "INC-1 is now **Dana**'s (Erin)." in known.plain_text
    async with database.unit_of_work() as uow:
        incident = await uow.incidents.get(incident_id=1)
    assert incident is not None and incident.owner_id == "UDANA"
    await lookout.close()
