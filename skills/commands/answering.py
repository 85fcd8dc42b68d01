"""What `ask` and `explain` share: record the answer (and, with an LLM, ask for a written one
after the reply, so no command waits on a model), and show it with its evidence."""

from __future__ import annotations

from datetime import datetime

from knowledge.answers import Answer
from knowledge.service import Knowledge
from skills.commands.retrieval import notes_block, repositories, vote_buttons
from skills.context import SkillContext
from skills.contract import Actions, Block, Context, Reply, Text
from skills.moments import instants

CONFIDENCE_WORDS = {
    "high": "confidence high",
    "medium": "confidence medium",
    "low": "confidence low",
    "none": "not enough evidence",
}


async def record_answer(
    ctx: SkillContext,
    knowledge: Knowledge,
    *,
    skill: str,
    question: str,
    answer: Answer,
    incident_id: int | None,
    incident_kind: str,
) -> int:
    """Store the answer; with an LLM configured (and evidence to give it) a written one is
    requested. Returns the answer's id (its feedback target is `answer:<id>`)."""
    repository, _ = repositories(ctx)
    write = knowledge.llm is not None and bool(answer.evidence)
    row = await repository.add_answer(
        skill=skill,
        incident_id=incident_id,
        incident_kind=incident_kind,
        question=question,
        evidence=answer.record(),
        status="pending" if write else "evidence",
        text=answer.text,
        detail={"confidence": answer.confidence},
        requested_by=ctx.actor.display_name,
        platform=ctx.conversation.platform,
        channel=ctx.conversation.channel,
        thread=ctx.conversation.thread,
        now=ctx.now,
    )
    if write:
        ctx.answers_requested = True
    return row.id


def answer_reply(
    *,
    heading: str,
    answer: Answer,
    answer_id: int,
    knowledge: Knowledge,
    notes: list[str],
    incident_id: int | None,
    now: datetime,
) -> Reply:
    """The answer with its confidence, notes and vote buttons; the instants its evidence
    carries (a root cause's "failed first (…Z)") shown in each reader's time zone."""
    blocks: list[Block] = [
        Text(f"**{heading}** ({CONFIDENCE_WORDS.get(answer.confidence, answer.confidence)})"),
        Text(instants(answer.text, now)),
    ]
    blocks.extend(notes_block(notes))
    if knowledge.llm is not None and answer.evidence:
        blocks.append(
            Context(
                f"From the ranked evidence. {knowledge.llm.model} is writing a fuller answer "
                "from the same evidence; it will appear below."
            )
        )
    elif answer.confidence != "none":  # "not enough evidence" has no claims to cite
        blocks.append(Context("From the ranked evidence; each claim cites its source."))
    blocks.append(Actions(tuple(vote_buttons(f"answer:{answer_id}", incident_id=incident_id))))
    return Reply(blocks=blocks, incident_id=incident_id)
