"""`ask <question…>`: an answer from past incidents, postmortems and runbooks, with citations."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

from knowledge.answers import answer_question
from knowledge.index import SearchResult
from skills.commands.answering import answer_reply, record_answer
from skills.commands.retrieval import behind_of, knowledge_of
from skills.context import Answer, Outside, SkillContext
from skills.errors import UsageError
from skills.grammar import Positional
from skills.registry import Skill


class AskArgs(BaseModel):
    question: Annotated[str, Positional(rest=True)] = Field(
        default="", max_length=1000, description="what you want to know"
    )


class AskSkill(Skill[AskArgs]):
    verb = "ask"
    aliases = ("question",)
    summary = "Ask past incidents, postmortems and runbooks; the answer cites its sources."
    args_model = AskArgs

    async def handle(self, ctx: SkillContext, args: AskArgs) -> Answer:
        question = args.question.strip()
        if not question:
            raise UsageError("What do you want to know? `ask how did we fix the orders DB?`")
        knowledge = knowledge_of(ctx)
        behind = await behind_of(ctx, knowledge)

        async def search() -> SearchResult:
            return await knowledge.search(question, limit=6, behind=behind)

        async def then(ctx: SkillContext, result: SearchResult) -> Answer:
            answer = answer_question(question, result.hits)
            incident_id = ctx.conversation.incident_id
            answer_id = await record_answer(
                ctx,
                knowledge,
                skill="ask",
                question=question,
                answer=answer,
                incident_id=incident_id,
                incident_kind="",
            )
            return answer_reply(
                heading=f"“{question[:200]}”",
                answer=answer,
                answer_id=answer_id,
                knowledge=knowledge,
                notes=result.notes,
                incident_id=incident_id,
                now=ctx.now,
            )

        # The index (Chroma, the embedder) is asked with no transaction open.
        return Outside(call=search, then=then)
