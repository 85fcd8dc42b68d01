"""`note [incident] <text…>`: a comment in the incident's timeline."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

from core.incidents import display_id
from skills.context import SkillContext
from skills.contract import Reply, Role
from skills.errors import UsageError
from skills.grammar import Positional
from skills.lookups import load_incident
from skills.registry import Skill

MAX_NOTE = 2000


class NoteArgs(BaseModel):
    incident: Annotated[str | None, Positional(incident=True)] = Field(
        default=None, description="incident id (INC-42); defaults to the thread's incident"
    )
    text: Annotated[str, Positional(rest=True)] = Field(
        min_length=1, max_length=MAX_NOTE, description="the note, kept exactly as typed"
    )


class NoteSkill(Skill[NoteArgs]):
    verb = "note"
    aliases = ("comment",)
    summary = "Add a note to an incident's timeline."
    role = Role.RESPONDER
    args_model = NoteArgs

    async def handle(self, ctx: SkillContext, args: NoteArgs) -> Reply:
        if args.incident is None and ctx.conversation.incident_id is None:
            raise UsageError(
                "Which incident? `note INC-42 <text…>`, or write the note in its thread."
            )
        incident = await load_incident(ctx, args.incident)
        await ctx.incidents.add_event(
            incident_id=incident.id,
            kind="note",
            text=args.text,
            at=ctx.now,
            actor=ctx.actor.display_name,
        )
        return Reply.text(
            f"📝 Noted in {display_id(incident.id)}'s timeline: _{args.text}_",
            incident_id=incident.id,
        )
