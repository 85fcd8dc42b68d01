"""`suggest [incident]`: runbooks and past fixes ranked by relevance × past success for this
kind of incident, each with its record ("worked 4/5 times") and buttons to rate it."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

from core.incidents import display_id
from knowledge.suggestions import Suggestion, suggestions
from skills.commands.retrieval import (
    FixSearch,
    behind_of,
    knowledge_of,
    notes_block,
    repositories,
    search_fixes,
    target_of,
    triggered_runbooks,
    vote_buttons,
)
from skills.commands.runbook_facts import visible_runbooks
from skills.context import Answer, Outside, SkillContext
from skills.contract import Actions, Block, Button, Context, Reply, Text
from skills.grammar import Positional
from skills.lookups import load_incident
from skills.registry import Skill


class SuggestArgs(BaseModel):
    incident: Annotated[str | None, Positional(incident=True)] = Field(
        default=None, description="incident id (INC-42); defaults to the thread's incident"
    )


class SuggestSkill(Skill[SuggestArgs]):
    verb = "suggest"
    aliases = ("fixes", "recommend")
    summary = "Runbooks and past fixes for an incident, ranked by relevance and past success."
    args_model = SuggestArgs

    async def handle(self, ctx: SkillContext, args: SuggestArgs) -> Answer:
        knowledge = knowledge_of(ctx)
        incident = await load_incident(ctx, args.incident)
        target = await target_of(ctx, incident)
        triggered = await triggered_runbooks(ctx, incident)
        behind = await behind_of(ctx, knowledge)
        entries = visible_runbooks(ctx)
        titles = {name: e.runbook.title for name, e in entries.items()}

        async def search() -> FixSearch:
            return await search_fixes(
                knowledge, target, behind=behind, limit=knowledge.rules.neighbours
            )

        async def then(ctx: SkillContext, found: FixSearch) -> Answer:
            ranked, hidden, more_notes = await suggestions(
                repositories(ctx)[1],
                target,
                runbooks=found.runbooks,
                matches=found.matches,
                triggered=triggered,
                runbook_titles=titles,
            )
            notes = list(dict.fromkeys([*found.notes, *more_notes]))
            return _reply(incident.id, target.kind, ranked, hidden, notes, set(entries))

        # The index (Chroma, the embedder) is asked with no transaction open.
        return Outside(call=search, then=then)


def _reply(
    incident_id: int,
    kind: str,
    ranked: list[Suggestion],
    hidden: list[str],
    notes: list[str],
    runbooks: set[str],
) -> Reply:
    ref = display_id(incident_id)
    if not ranked:
        return Reply(
            blocks=[
                Text(f"No runbook or past fix to suggest for {ref} yet."),
                *notes_block(notes),
            ],
            incident_id=incident_id,
        )
    blocks: list[Block] = [Text(f"**Suggestions for {ref}** ({kind})")]
    for number, suggestion in enumerate(ranked, start=1):
        lines = [
            f"{number}. **{suggestion.title}** — {suggestion.record} · "
            f"relevance {suggestion.relevance:.0%}"
        ]
        if suggestion.evidence:
            lines.append("Seen on " + ", ".join(suggestion.evidence[:4]))
        blocks.append(Text("\n".join(lines)))
        buttons = []
        if suggestion.target.startswith("runbook:"):
            name = suggestion.target.partition(":")[2]
            if name in runbooks:
                buttons.append(Button("Plan", "run", (name, "--incident", ref, "--dry-run")))
        buttons.extend(vote_buttons(suggestion.target, incident_id=incident_id, fixed=True))
        blocks.append(Actions(tuple(buttons)))
    blocks.extend(notes_block(notes))
    footer = "Ranked by relevance × success on incidents of this kind ((worked + 1) / (tries + 2))."
    if hidden:
        footer += f" {len(hidden)} hidden after a 👎."
    blocks.append(Context(footer))
    return Reply(blocks=blocks, incident_id=incident_id)
