"""`similar [incident]`: past incidents like this one, why they match, and what fixed them."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

from core.incidents import display_id
from knowledge.similar import similar_incidents
from skills.context import SkillContext
from skills.contract import Actions, Block, Button, Context, Reply, Text
from skills.formatting import age, duration, mark
from skills.grammar import Positional
from skills.lookups import load_incident
from skills.registry import Skill


class SimilarArgs(BaseModel):
    incident: Annotated[str | None, Positional()] = Field(
        default=None, description="incident id (INC-42); defaults to the thread's incident"
    )
    limit: int = Field(default=5, ge=1, le=10, description="how many to show")


class SimilarSkill(Skill[SimilarArgs]):
    verb = "similar"
    aliases = ("like", "history")
    summary = "Past incidents like this one: why they match and how they were resolved."
    args_model = SimilarArgs

    async def handle(self, ctx: SkillContext, args: SimilarArgs) -> Reply:
        incident = await load_incident(ctx, args.incident)
        ref = display_id(incident.id)
        matches = await similar_incidents(
            incidents=ctx.incidents, alerts=ctx.alerts, incident=incident, limit=args.limit
        )
        if not matches:
            return Reply.text(
                f"No past incident looks like {ref} (same service, alerts or title).",
                incident_id=incident.id,
            )
        blocks: list[Block] = [Text(f"**Incidents like {ref}** ({incident.title})")]
        for match in matches:
            past = match.incident
            took = (
                f"resolved after {duration(past.resolved_at - past.created_at)}"
                if past.resolved_at
                else past.status
            )
            lines = [
                f"{mark(past.severity, past.status)} **{display_id(past.id)} · {past.title}** — "
                f"{took}, {age(past.created_at, ctx.now)} ago",
                f"Why: {'; '.join(match.reasons)}",
            ]
            if match.resolution:
                lines.append(f"Fix: _{match.resolution}_")
            blocks.append(Text("\n".join(lines)))
        blocks.append(
            Actions(
                tuple(
                    Button(
                        f"Details {display_id(m.incident.id)}", "show", (display_id(m.incident.id),)
                    )
                    for m in matches[:5]
                )
            )
        )
        blocks.append(Context("Matched on service, alert names and title words; evidence above."))
        return Reply(blocks=blocks, incident_id=incident.id)
