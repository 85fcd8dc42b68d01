"""`explain [incident]`: a short hypothesis from the incident's evidence — its alerts and root
cause, similar past incidents and what fixed them, runbooks — every claim citing its source,
with a confidence; "not enough evidence" when that is the truth."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

from core.incidents import display_id
from knowledge.answers import explain_incident
from knowledge.suggestions import suggestions
from skills.commands.answering import answer_reply, record_answer
from skills.commands.retrieval import (
    FixSearch,
    behind_of,
    knowledge_of,
    repositories,
    search_fixes,
    target_of,
    triggered_runbooks,
)
from skills.commands.runbook_facts import visible_runbooks
from skills.context import Answer, Outside, SkillContext
from skills.grammar import Positional
from skills.lookups import load_incident
from skills.registry import Skill


class ExplainArgs(BaseModel):
    incident: Annotated[str | None, Positional(incident=True)] = Field(
        default=None, description="incident id (INC-42); defaults to the thread's incident"
    )


class ExplainSkill(Skill[ExplainArgs]):
    verb = "explain"
    aliases = ("why", "hypothesis")
    summary = "A cited hypothesis for an incident from its evidence, with a confidence."
    args_model = ExplainArgs

    async def handle(self, ctx: SkillContext, args: ExplainArgs) -> Answer:
        knowledge = knowledge_of(ctx)
        incident = await load_incident(ctx, args.incident)
        target = await target_of(ctx, incident)
        triggered = await triggered_runbooks(ctx, incident)
        behind = await behind_of(ctx, knowledge)
        titles = {name: e.runbook.title for name, e in visible_runbooks(ctx).items()}

        async def search() -> FixSearch:
            return await search_fixes(
                knowledge, target, behind=behind, limit=knowledge.rules.neighbours
            )

        async def then(ctx: SkillContext, found: FixSearch) -> Answer:
            feedback = repositories(ctx)[1]
            ranked, _, _ = await suggestions(
                feedback,
                target,
                runbooks=found.runbooks,
                matches=found.matches,
                triggered=triggered,
                runbook_titles=titles,
            )
            answer = explain_incident(incident, target, found.matches, ranked)
            ref = display_id(incident.id)
            answer_id = await record_answer(
                ctx,
                knowledge,
                skill="explain",
                question=f"What is happening in {ref} ({incident.title}) and what fixes it?",
                answer=answer,
                incident_id=incident.id,
                incident_kind=target.kind,
            )
            return answer_reply(
                heading=f"Hypothesis for {ref}",
                answer=answer,
                answer_id=answer_id,
                knowledge=knowledge,
                notes=found.notes,
                incident_id=incident.id,
                now=ctx.now,
            )

        # The index (Chroma, the embedder) is asked with no transaction open.
        return Outside(call=search, then=then)
