from __future__ import annotations

import logging

import pytest
from pydantic import BaseModel

from skills.context import SkillContext
from skills.contract import Reply, Role
from skills.registry import NoArgs, Registry, Skill
from tests.skills.conftest import Harness, make_alert, text_of


async def audit_outcomes(harness: Harness) -> list[tuple[str, str, str]]:
    async with harness.database.unit_of_work() as uow:
        rows = await uow.audit.recent(limit=50)
    return [(row.user_id, row.action, row.outcome) for row in reversed(rows)]


async def test_unknown_verb_suggests_the_closest(harness: Harness) -> None:
    reply = await harness.say("/lookout acknowlege 3")
    assert reply.visibility == "ephemeral"
    assert text_of(reply) == "I don't know `acknowlege`. Did you mean `acknowledge`? Try `help`."
    reply = await harness.say("/lookout xyzzy")
    assert text_of(reply) == "I don't know `xyzzy`. Try `help` for the list of commands."


# (typed, the first suggestion or None): typos within a few edits, a prefix, Latin
# look-alikes from other scripts; a word that merely shares letters with a command is none.
SUGGESTIONS = [
    ("resovle", "resolve"),  # two letters swapped: one edit
    ("incidnets", "incidents"),
    ("corelate", "correlate"),
    ("ak", "ack"),
    ("postm", "postmortem"),  # a prefix
    ("асk", "ack"),  # Cyrillic а and с
    ("АСК", "ack"),
    ("ѕhow", "show"),  # Cyrillic ѕ
    ("foo", None),  # not `info`
    ("what", None),  # not `whoami`
    ("xyzzy", None),
]


@pytest.mark.parametrize(("typed", "meant"), SUGGESTIONS)
async def test_an_unknown_word_gets_a_suggestion_only_when_it_is_a_likely_slip(
    harness: Harness, typed: str, meant: str | None
) -> None:
    reply = text_of(await harness.say(f"/lookout {typed} 3"))
    said = typed.lower()  # a verb is read in lower case
    if meant is None:
        assert reply == f"I don't know `{said}`. Try `help` for the list of commands."
    else:
        assert reply == f"I don't know `{said}`. Did you mean `{meant}`? Try `help`."


async def test_empty_command_is_help(harness: Harness) -> None:
    reply = await harness.say("/lookout")
    assert "Lookout commands" in text_of(reply)


async def test_viewer_is_refused_with_a_plain_sentence(harness: Harness) -> None:
    await harness.ingestor.ingest([make_alert("HighErrorRate", "checkout")])
    await harness.set_role("victor", Role.VIEWER)
    reply = await harness.say("resolve INC-1", user="victor")
    assert reply.visibility == "ephemeral"
    assert text_of(reply) == (
        "`resolve` needs the responder role and you are a viewer; ask a Lookout admin for access."
    )
    assert ("victor", "resolve", "denied") in await audit_outcomes(harness)
    # Viewers still read.
    assert "INC-1" in text_of(await harness.say("show 1", user="victor"))


async def test_admins_from_config_get_the_admin_role(harness: Harness) -> None:
    reply = await harness.say("help", user="root")
    assert "Your role: admin." in text_of(reply)
    assert "Your role: responder." in text_of(await harness.say("help", user="someone"))


async def test_unexpected_error_gets_a_reference_and_a_logged_trace(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    class BrokenSkill(Skill[NoArgs]):
        verb = "broken"
        summary = "always fails"

        async def handle(self, ctx: SkillContext, args: NoArgs) -> Reply:
            raise RuntimeError("database exploded: password=hunter2")

    harness.dispatcher.registry.register(BrokenSkill())
    with caplog.at_level(logging.ERROR):
        reply = await harness.say("broken")
    message = text_of(reply)
    assert message.startswith("Something went wrong (ref ")
    assert "hunter2" not in message and "Traceback" not in message
    ref = message.split("ref ")[1][:6]
    record = next(r for r in caplog.records if getattr(r, "ref", None) == ref)
    assert record.exc_info is not None
    assert ("alice", "broken", "error") in await audit_outcomes(harness)
    assert harness.outcomes[-1].result == "error"


async def test_failed_skill_rolls_back_its_writes(harness: Harness) -> None:
    class HalfDoneSkill(Skill[NoArgs]):
        verb = "halfdone"
        summary = "writes then fails"
        role = Role.RESPONDER

        async def handle(self, ctx: SkillContext, args: NoArgs) -> Reply:
            incident = await ctx.incidents.get(incident_id=1)
            assert incident is not None
            incident.status = "resolved"
            raise RuntimeError("boom")

    await harness.ingestor.ingest([make_alert("HighErrorRate", "checkout")])
    harness.dispatcher.registry.register(HalfDoneSkill())
    await harness.say("halfdone")
    async with harness.database.unit_of_work() as uow:
        incident = await uow.incidents.get(incident_id=1)
    assert incident is not None and incident.status == "triggered"


def test_registry_rejects_sync_handlers_and_duplicates() -> None:
    class SyncSkill(Skill[NoArgs]):
        verb = "sync"
        summary = "not async"

        def handle(self, ctx: SkillContext, args: NoArgs) -> Reply:  # type: ignore[override]
            return Reply()

    registry = Registry()
    with pytest.raises(TypeError, match="async def"):
        registry.register(SyncSkill())

    class Args(BaseModel):
        pass

    class One(Skill[NoArgs]):
        verb = "one"
        aliases = ("uno",)
        summary = "one"

        async def handle(self, ctx: SkillContext, args: NoArgs) -> Reply:
            return Reply()

    class Two(One):
        verb = "uno"

    registry.register(One())
    with pytest.raises(ValueError, match="two skills answer to 'uno'"):
        registry.register(Two())


async def test_every_invocation_is_audited(harness: Harness) -> None:
    await harness.ingestor.ingest([make_alert("HighErrorRate", "checkout")])
    await harness.say("incidents")
    await harness.say("ack INC-1")
    await harness.say("ack INC-1")
    await harness.say("show 99")
    assert await audit_outcomes(harness) == [
        ("alice", "incidents", "ok"),
        ("alice", "ack", "ok"),
        ("alice", "ack", "conflict"),
        ("alice", "show", "not_found"),
    ]


async def test_nobody_acts_without_an_identity_and_bots_only_when_allowed(
    harness: Harness,
) -> None:
    """The dispatcher's own guard, whatever an adapter lets through: an empty user id never
    acts; a bot acts only when the access policy names it."""
    from skills.contract import Actor, Conversation

    await harness.ingestor.ingest([make_alert("HighErrorRate", "checkout")])
    where = Conversation(platform="test", channel="#incidents")
    for actor in (
        Actor(platform="test", user_id="", display_name=""),
        Actor(platform="test", user_id="  ", display_name="someone"),
        Actor(platform="test", user_id="B0STRANGER", display_name="a bot", bot=True),
    ):
        reply = await harness.dispatcher.run("ack INC-1", actor=actor, conversation=where)
        assert reply.visibility == "ephemeral"
    async with harness.database.unit_of_work() as uow:
        incident = await uow.incidents.get(incident_id=1)
        users = [await uow.users.get(platform="test", platform_user_id=i) for i in ("", "  ")]
    assert incident is not None and incident.status == "triggered"
    assert users == [None, None]
    assert {outcome for _, action, outcome in await audit_outcomes(harness) if action == "ack"} == {
        "denied"
    }


async def test_outsiders_are_viewers_whatever_their_stored_role(harness: Harness) -> None:
    from skills.contract import Actor, Conversation

    await harness.ingestor.ingest([make_alert("HighErrorRate", "checkout")])
    await harness.set_role("pat", Role.ADMIN)  # stored before they became an outsider
    outsider = Actor(platform="test", user_id="pat", display_name="Pat", team="T0X", external=True)
    where = Conversation(platform="test", channel="#incidents")
    reply = await harness.dispatcher.run("ack INC-1", actor=outsider, conversation=where)
    assert "can only look here" in text_of(reply)
    assert "INC-1" in text_of(
        await harness.dispatcher.run("show INC-1", actor=outsider, conversation=where)
    )
