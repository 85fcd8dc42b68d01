"""`note [incident] <text…>`: a comment in the incident's timeline."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

from core.incidents import display_id, parse_incident_id
from skills.context import SkillContext
from skills.contract import Reply, Role
from skills.errors import UsageError
from skills.grammar import Positional
from skills.lookups import load_incident
from skills.registry import Skill

MAX_NOTE = 2000


class NoteArgs(BaseModel):
    words: Annotated[list[str], Positional(rest=True)] = Field(
        default_factory=list,
        description="[incident] then the note; in an incident's thread the id may be left out",
    )


def split_reference(words: list[str]) -> tuple[str | None, list[str]]:
    """(incident reference, the rest): the first word is the incident when it reads as one."""
    if words:
        try:
            parse_incident_id(words[0])
        except ValueError:
            return None, words
        return words[0], words[1:]
    return None, words


class NoteSkill(Skill[NoteArgs]):
    verb = "note"
    aliases = ("comment",)
    summary = "Add a note to an incident's timeline."
    role = Role.RESPONDER
    args_model = NoteArgs

    async def handle(self, ctx: SkillContext, args: NoteArgs) -> Reply:
        reference, words = split_reference(args.words)
        if reference is None and ctx.conversation.incident_id is None:
            raise UsageError(
                "Which incident? `note INC-42 <text…>`, or write the note in its thread."
            )
        text = " ".join(words).strip()
        if not text:
            raise UsageError("What should the note say? Usage: `note [incident] <text…>`")
        if len(text) > MAX_NOTE:
            raise UsageError(f"A note holds at most {MAX_NOTE} characters.")
        incident = await load_incident(ctx, reference)
        await ctx.incidents.add_event(
            incident_id=incident.id,
            kind="note",
            text=text,
            at=ctx.now,
            actor=ctx.actor.display_name,
        )
        return Reply.text(
            f"📝 Noted in {display_id(incident.id)}'s timeline: _{text}_", incident_id=incident.id
        )
