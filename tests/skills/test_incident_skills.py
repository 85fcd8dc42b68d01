from __future__ import annotations

from skills.contract import Actions, Role, Table
from skills.views.incident_card import CardFacts, card_facts, incident_message
from tests.skills.conftest import NOW, Harness, make_alert, text_of


async def storm(harness: Harness) -> None:
    await harness.ingestor.ingest(
        [
            make_alert("PostgresDown", "postgres-primary", "critical"),
            make_alert("ConnectionsExhausted", "postgres-primary", "critical", 1),
            make_alert("HighErrorRate", "checkout", "error", 2),
            make_alert("LatencyHigh", "checkout", "warning", 3),
            make_alert("DiskFull", "logging", "warning", 4),
        ]
    )


async def test_help_lists_every_skill_with_usage(harness: Harness) -> None:
    reply = await harness.say("help")
    table = next(b for b in reply.blocks if isinstance(b, Table))
    commands = [row[0] for row in table.rows]
    assert commands[:6] == [
        "/lookout help [skill]",
        "/lookout incidents [--service SERVICE] [--severity SEVERITY] [--all]",
        "/lookout show [incident] [--alert ALERT]",
        "/lookout ack [incident]",
        "/lookout resolve [incident] [note…]",
        "/lookout similar [incident] [text…] [--limit LIMIT]",
    ]
    assert (
        "/lookout run [runbook] [arguments…] [--incident INCIDENT] [--dry-run] [--plan PLAN]"
        in commands
    )
    # Only what the asker (a responder) may run: not `role`, which needs an admin.
    runnable = [s for s in harness.dispatcher.registry.skills if s.role <= Role.RESPONDER]
    assert len(commands) == len(runnable) < len(harness.dispatcher.registry.skills)
    assert not any(command.startswith("/lookout role ") for command in commands)
    detail = text_of(await harness.say("help resolve"))
    assert "/lookout resolve [incident] [note…]" in detail
    assert "Needs the responder role" in detail
    assert "Did you mean `resolve`" in text_of(await harness.say("help resovle"))


async def test_incidents_lists_open_ones_with_filters(harness: Harness) -> None:
    assert text_of(await harness.say("incidents")) == "No open incidents. 🎉"
    await storm(harness)
    reply = await harness.say("incidents")
    table = next(b for b in reply.blocks if isinstance(b, Table))
    assert [row[3] for row in table.rows] == ["logging", "checkout", "postgres-primary"]
    assert "**3 open incidents**" in text_of(reply)
    only = await harness.say("incidents --service checkout")
    assert [row[3] for row in next(b for b in only.blocks if isinstance(b, Table)).rows] == [
        "checkout"
    ]
    warnings = await harness.say("incidents --severity warn")
    assert [row[3] for row in next(b for b in warnings.blocks if isinstance(b, Table)).rows] == [
        "logging"
    ]
    await harness.say("resolve INC-3")
    assert "2 open incidents" in text_of(await harness.say("incidents"))
    assert "3 incidents" in text_of(await harness.say("incidents --all"))
    assert "`--severity`: unknown severity 'loud'" in text_of(
        await harness.say("incidents --severity loud")
    )


async def test_show_has_alerts_labels_annotations_and_timeline(harness: Harness) -> None:
    await storm(harness)
    reply = await harness.say("show INC-1")
    assert reply.incident_id == 1 and reply.visibility == "thread"
    text = text_of(reply)
    assert "postgres-primary: PostgresDown and 1 other alert" in text
    table = next(b for b in reply.blocks if isinstance(b, Table))
    assert [row[0] for row in table.rows] == ["PostgresDown", "ConnectionsExhausted"]
    assert "service=postgres-primary" in table.rows[0][4]
    assert "summary: PostgresDown on postgres-primary" in text
    assert "Opened by alert PostgresDown" in text
    assert "ConnectionsExhausted joined: same service postgres-primary, 60 s after" in text
    assert text_of(await harness.say("show INC-404")) == "There is no incident INC-404."
    assert "is not an incident id" in text_of(await harness.say("show banana"))


async def test_ack_records_who_and_when(harness: Harness) -> None:
    await storm(harness)
    harness.clock.advance(minutes=4, seconds=5)
    reply = await harness.say("ack INC-2", user="bob")
    assert text_of(reply) == "✅ INC-2 acknowledged by **bob** — time to acknowledge 4 min 5 s."
    assert reply.incident_id == 2
    assert harness.outcomes[-1].changed_incidents == frozenset({2})
    async with harness.database.unit_of_work() as uow:
        incident = await uow.incidents.get(incident_id=2)
        events = await uow.incidents.events(incident_id=2)
    assert incident is not None
    assert incident.status == "acknowledged" and incident.acknowledged_by == "bob"
    assert incident.acknowledged_at == harness.clock.now
    assert events[-1].kind == "acknowledged" and events[-1].data["mtta_seconds"] == 245
    again = await harness.say("ack 2", user="carol")
    assert text_of(again) == "INC-2 was already acknowledged by bob."
    assert again.visibility == "ephemeral"


async def test_resolve_with_note_records_mttr(harness: Harness) -> None:
    await storm(harness)
    harness.clock.advance(hours=1, minutes=2)
    reply = await harness.say('resolve INC-1 failed over to "pg-1"; replica promoted')
    assert "✅ INC-1 resolved by **alice** after 1 h 2 min." in text_of(reply)
    async with harness.database.unit_of_work() as uow:
        incident = await uow.incidents.get(incident_id=1)
        events = await uow.incidents.events(incident_id=1)
    assert incident is not None and incident.status == "resolved"
    assert events[-1].text == (
        'Resolved by alice (MTTR 1 h 2 min): failed over to "pg-1"; replica promoted'
    )
    assert (
        text_of(await harness.say("ack 1")) == "INC-1 is already resolved; nothing to acknowledge."
    )
    assert text_of(await harness.say("resolve 1")) == "INC-1 is already resolved."


async def test_commands_in_an_incident_thread_need_no_id(harness: Harness) -> None:
    await storm(harness)
    reply = await harness.say("ack", incident_id=3)
    assert "INC-3 acknowledged" in text_of(reply)
    assert "Which incident?" in text_of(await harness.say("ack"))


async def test_a_button_click_runs_the_same_code_as_the_typed_command(harness: Harness) -> None:
    await storm(harness)
    async with harness.database.unit_of_work() as uow:
        incident = await uow.incidents.get(incident_id=1)
        facts = await card_facts(uow.alerts, [1])
    assert incident is not None
    assert facts[1] == CardFacts(2, 2, ("postgres-primary",), "PostgresDown on postgres-primary")
    card = incident_message(incident, facts[1], NOW)
    actions = next(b for b in card.blocks if isinstance(b, Actions))
    assert [b.label for b in actions.buttons] == [
        "Acknowledge",
        "Assign to me",
        "Details",
        "Run runbook",
        "Similar",
        "Correlate",
        "Resolve",
    ]
    ack = actions.buttons[0]
    assert ack.command == "ack INC-1"
    clicked = await harness.say(ack.command, user="dana")
    typed = await harness.say("/lookout ack INC-1", user="erin")
    assert "INC-1 acknowledged by **dana**" in text_of(clicked)
    assert text_of(typed) == "INC-1 was already acknowledged by dana."
