"""The passages an answer quotes: the lines that share most words with the question, never
the title again, never an empty quote."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import cast

from knowledge.answers import Answer, answer_question, best_lines
from knowledge.documents import Document
from knowledge.index import Hit
from knowledge.service import Knowledge
from skills.commands.answering import answer_reply

HEADER = (
    "# Postmortem: orders database out of connections  \n"
    "Incidents: INC-3 · Severity: critical · Author: sam\n"
)
SECTION = (
    "Postmortem: orders database out of connections\n## What fixed it  \n"
    "Failing over to the replica freed every slot at once.\n"
)
INCIDENT = (
    "orders-db: PostgresConnectionsExhausted\nService: orders-db\n"
    "Symptoms: remaining connection slots are reserved\nFixed by: failed over to pg-1\n"
)


def test_a_passage_skips_the_title_line_and_headings_whatever_their_markup() -> None:
    assert (
        best_lines(HEADER, "who wrote it") == "Incidents: INC-3 · Severity: critical · Author: sam"
    )
    assert best_lines(SECTION, "what fixed it") == (
        "Failing over to the replica freed every slot at once."
    )
    lines = best_lines(INCIDENT, "connection slots")
    assert lines.startswith("Symptoms: remaining connection slots") and "Fixed by:" in lines
    assert best_lines("only a title", "anything") == ""


def test_a_cited_document_with_nothing_to_quote_is_named_without_an_empty_quote() -> None:
    bare = Document(
        id="postmortem:x#0",
        kind="postmortem",
        title="Postmortem: x",
        text="# Postmortem: x",
        meta={"slug": "x"},
    )
    one_line = Document(
        id="postmortem:y#0", kind="postmortem", title="y", text="Disk full.", meta={"slug": "y"}
    )
    answer = answer_question(
        "what about x",
        [Hit(document, score=0.03, similarity=0.9, lexical=None) for document in (bare, one_line)],
    )
    assert answer.text == "• **Postmortem: x** [postmortem:x]\n• **y**: Disk full. [postmortem:y]"


def test_an_answers_instants_are_shown_in_the_readers_time() -> None:
    """A root cause's "failed first (…Z)" becomes a time span each platform renders."""
    answer = Answer(
        "checkout is the probable root cause (failed first (2026-11-21T15:53:43Z)) [INC-4].",
        "medium",
        (),
    )
    reply = answer_reply(
        heading="Hypothesis for INC-4",
        answer=answer,
        answer_id=7,
        knowledge=cast(Knowledge, SimpleNamespace(llm=None)),
        notes=[],
        incident_id=4,
        now=datetime(2026, 11, 21, 16, 0, tzinfo=UTC),
    )
    assert "failed first (15:53:43 UTC))" in reply.plain_text
    assert "2026-11-21T15:53:43Z" not in reply.plain_text


def test_a_passage_found_on_words_alone_must_hold_half_of_the_question() -> None:
    """Sharing one known word with a question in other words is not an answer."""
    document = Document(
        id="incident:3", kind="incident", title="checkout: HighErrorRate", text="Rolled back."
    )
    incidental = Hit(document, score=0.02, similarity=0.1, lexical=2.0, coverage=0.2)
    answer = answer_question("how do I bake a cake for checkout", [incidental])
    assert answer.confidence == "none" and answer.text.startswith("Not enough evidence")
    held = Hit(document, score=0.02, similarity=0.1, lexical=2.0, coverage=0.8)
    assert answer_question("checkout errors", [held]).evidence[0].citation == "INC-3"
