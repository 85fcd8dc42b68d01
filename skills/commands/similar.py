"""`similar [incident | free text…]`: past incidents like this one (or like a description),
why they match, what fixed them, and a way to say whether the match helped."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

from core.incidents import display_id
from knowledge.similar import Match, Target, similar_incidents
from skills.commands.retrieval import (
    knowledge_of,
    notes_block,
    reader_of,
    target_of,
    vote_buttons,
)
from skills.context import Answer, SkillContext, outside_reply
from skills.contract import Actions, Block, Button, Context, Reply, Text
from skills.errors import UsageError
from skills.grammar import Positional
from skills.lookups import load_incident
from skills.registry import Skill

RUN_WORDS = {"succeeded": "worked", "failed": "did not help", "rolled_back": "failed"}


class SimilarArgs(BaseModel):
    incident: Annotated[str | None, Positional(incident=True)] = Field(
        default=None, description="incident id (INC-42); defaults to the thread's incident"
    )
    text: Annotated[str, Positional(rest=True)] = Field(
        default="", max_length=2000, description="or a description of what is happening"
    )
    limit: int = Field(default=5, ge=1, le=10, description="how many to show")


class SimilarSkill(Skill[SimilarArgs]):
    verb = "similar"
    aliases = ("like", "history", "seen")
    summary = "Past incidents like this one (or a description): why they match, what fixed them."
    args_model = SimilarArgs

    async def handle(self, ctx: SkillContext, args: SimilarArgs) -> Answer:
        knowledge = knowledge_of(ctx)
        reader = reader_of(ctx)
        reference = args.incident
        incident = None
        if reference is not None or (not args.text and ctx.conversation.incident_id):
            incident = await load_incident(ctx, reference)
            target = await target_of(ctx, incident)
            subject = f"{display_id(incident.id)} ({incident.title})"
        elif args.text:
            text = args.text
            target = Target(text=text)
            subject = f"“{text[:120]}”"
        else:
            raise UsageError("Which incident? `similar INC-42`, or describe it: `similar <text…>`.")
        votes = await reader.feedback.for_kind(incident_kind=target.kind) if target.kind else {}
        hidden = {t for t, record in votes.items() if record.hidden}
        merged: set[str] = set()
        if incident is not None and incident.merged_into:
            merged.add(f"incident:{incident.merged_into}")
        behind = await knowledge.behind(reader.knowledge)
        incident_id = incident.id if incident else None

        async def search() -> Reply:
            matches, notes = await similar_incidents(
                knowledge, target, limit=args.limit, hidden=hidden, exclude=merged, behind=behind
            )
            return _reply(subject, matches, notes, incident_id, hidden)

        # The index (Chroma, the embedder) is asked with no transaction open.
        return outside_reply(search)


def _reply(
    subject: str,
    matches: list[Match],
    notes: list[str],
    incident_id: int | None,
    hidden: set[str],
) -> Reply:
    if not matches:
        return Reply(
            blocks=[
                Text(f"Nothing in past incidents looks like {subject}."),
                *notes_block(notes),
            ],
            incident_id=incident_id,
        )
    blocks: list[Block] = [Text(f"**Incidents like {subject}**")]
    for match in matches:
        resolved = match.document.text_meta("resolved_at")[:10]
        took = match.document.meta.get("minutes")
        when = f"resolved {resolved}" + (f" after {took} min" if took is not None else "")
        lines = [
            f"✅ **{match.ref} · {match.document.title}** — {when}",
            f"Why: {'; '.join(match.reasons)}",
        ]
        if match.fix:
            lines.append(f"Fixed by: _{match.fix}_")
        if match.runs:
            lines.append(
                "Runbooks: "
                + "; ".join(f"`{name}` {RUN_WORDS.get(s, s)}" for name, s in match.runs)
            )
        blocks.append(Text("\n".join(lines)))
        blocks.append(
            Actions(
                (
                    Button(f"Details {match.ref}", "show", (match.ref,)),
                    *vote_buttons(match.target, incident_id=incident_id),
                )
            )
        )
    blocks.extend(notes_block(notes))
    footer = "Matched by meaning and by words (alerts, services, error text)."
    if hidden:
        footer += f" {len(hidden)} hidden after a 👎 for incidents like this."
    blocks.append(Context(footer))
    return Reply(blocks=blocks, incident_id=incident_id)
