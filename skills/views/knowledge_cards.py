"""Knowledge messages kept in threads: "Seen before?" on a new incident, and an answer an LLM
writes after `ask` or `explain` (drafting, then the checked answer or why there is none)."""

from __future__ import annotations

from typing import Any

from core.incidents import display_id
from core.wording import plural
from skills.contract import Actions, Block, Button, Context, Reply, Text
from storage.models import KnowledgeAnswerRow, KnowledgeHintRow

RUN_WORDS = {"succeeded": "worked", "failed": "did not help", "rolled_back": "failed"}


def _votes(target: str, incident_id: int | None) -> list[Button]:
    where = ("--incident", display_id(incident_id)) if incident_id is not None else ()
    return [
        Button("👍", "feedback", ("up", target, *where)),
        Button("👎", "feedback", ("down", target, *where)),
    ]


def hint_message(hint: KnowledgeHintRow) -> Reply:
    """ "Seen before?" with the strong matches, what fixed them and buttons to act or rate."""
    ref = display_id(hint.incident_id)
    matches: list[dict[str, Any]] = list(hint.snapshot.get("matches", []))
    blocks: list[Block] = [Text(f"🔁 **Seen before?** {ref} looks like:")]
    for match in matches:
        past = display_id(int(match["incident_id"]))
        lines = [
            f"**{past} · {match['title']}** — {float(match['similarity']):.0%} alike, "
            f"resolved {str(match.get('resolved_at', ''))[:10]}",
            "Why: " + "; ".join(match.get("reasons", [])),
        ]
        if match.get("fix"):
            lines.append(f"Fixed by: _{match['fix']}_")
        runs = match.get("runs") or []
        if runs:
            lines.append("Runbooks: " + "; ".join(f"`{n}` {RUN_WORDS.get(s, s)}" for n, s in runs))
        blocks.append(Text("\n".join(lines)))
        blocks.append(
            Actions(
                (
                    Button(f"Details {past}", "show", (past,)),
                    *_votes(f"incident:{match['incident_id']}", hint.incident_id),
                )
            )
        )
    blocks.append(Actions((Button("Suggest fixes", "suggest", (ref,), "primary"),)))
    blocks.append(Context("Posted only for a strong match; 👎 hides it for incidents like this."))
    return Reply(blocks=blocks, visibility="thread", incident_id=hint.incident_id)


def answer_message(answer: KnowledgeAnswerRow) -> Reply:
    """The LLM's answer to an `ask` or `explain`, as it stands."""
    model = str(answer.detail.get("model") or "the LLM")
    if answer.status == "pending" or answer.status == "writing":
        return Reply.text(
            f"✍️ {model} is writing an answer from the evidence…",
            visibility="thread",
            incident_id=answer.incident_id,
        )
    if answer.status == "failed":
        return Reply(
            blocks=[
                Text(f"⚠️ No written answer: {answer.detail.get('error', 'the LLM failed')}."),
                Context("The answer above, from the ranked evidence alone, stands."),
            ],
            visibility="thread",
            incident_id=answer.incident_id,
        )
    confidence = answer.detail.get("llm_confidence") or "not stated"
    blocks: list[Block] = [
        Text(f"🤖 **Written by {model}** (confidence {confidence})"),
        Text(answer.text or ""),
    ]
    removed = answer.detail.get("removed_citations") or []
    if removed:
        blocks.append(
            Context(
                f"Removed {plural(len(removed), 'citation')} that pointed "
                f"at nothing Lookout gave it: {', '.join(removed[:5])}."
            )
        )
    commands = answer.detail.get("commands") or []
    if commands:
        blocks.append(
            Context(
                "Commands above are shown, not run: Lookout runs a fix only through a runbook, "
                "with its approvals."
            )
        )
    buttons = [
        Button(f"Plan {c.partition(':')[2]}", "run", (c.partition(":")[2], "--dry-run"))
        for c in answer.detail.get("cited", [])
        if str(c).startswith("runbook:")
    ][:3]
    buttons += _votes(f"answer:{answer.id}", answer.incident_id)
    blocks.append(Actions(tuple(buttons)))
    return Reply(blocks=blocks, visibility="thread", incident_id=answer.incident_id)
