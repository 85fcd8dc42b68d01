"""Answers from ranked evidence: what `explain` and `ask` say without an LLM, and the
evidence an LLM is given when there is one. Deterministic: the same index and question give
the same answer, and every sentence cites where it comes from."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from core.incident_summary import root_cause_from_record
from core.incidents import display_id
from knowledge.index import WORDS_EVIDENCE, Hit
from knowledge.lexical import tokenize
from knowledge.llm import Evidence
from knowledge.similar import Match, Target
from knowledge.suggestions import Suggestion
from storage.models import IncidentRow

STRONG = 0.75
FAIR = 0.55


@dataclass(frozen=True)
class Answer:
    text: str
    confidence: str  # low | medium | high | none (not enough evidence)
    evidence: tuple[Evidence, ...]

    def record(self) -> dict[str, object]:
        return {
            "items": [
                {"citation": e.citation, "title": e.title, "text": e.text} for e in self.evidence
            ]
        }


def evidence_from_record(record: dict[str, object]) -> list[Evidence]:
    items = record.get("items")
    if not isinstance(items, list):
        return []
    return [
        Evidence(str(i.get("citation")), str(i.get("title")), str(i.get("text")))
        for i in items
        if isinstance(i, dict)
    ]


def best_lines(text: str, question: str, count: int = 2) -> str:
    """The lines of `text` sharing most words with `question` (after its first line, the
    title, and without Markdown headings), and what fixed it when the document says."""
    wanted = set(tokenize(question))
    lines = [
        line.strip()
        for line in text.strip().splitlines()[1:]
        if line.strip() and not line.lstrip().startswith("#")
    ]
    if not lines:
        return ""
    fixed = [i for i, line in enumerate(lines) if line.startswith("Fixed by:")]
    scored = sorted(
        enumerate(lines), key=lambda item: (-len(wanted & set(tokenize(item[1]))), item[0])
    )
    chosen = sorted({*fixed[:1], *(index for index, _ in scored[: count - len(fixed[:1])])})
    return " … ".join(lines[i] for i in chosen)[:400]


def explain_incident(
    incident: IncidentRow,
    target: Target,
    matches: Sequence[Match],
    suggestions: Sequence[Suggestion],
) -> Answer:
    """A short hypothesis for `incident` from its root cause, its closest past incidents and
    what fixed them, with a confidence; "Not enough evidence" when that is the truth."""
    ref = display_id(incident.id)
    evidence = [Evidence(ref, incident.title, target.text)]
    sentences: list[str] = []
    cause = root_cause_from_record(incident.root_cause)
    if cause is not None:
        # The ranker's share among the services that alerted, told apart from the answer's
        # own confidence in its heading.
        sentences.append(
            f"{cause.service} is the probable root cause ({cause.why}; "
            f"{round(cause.confidence * 100)} % likely among the services that alerted) [{ref}]."
        )
    # The closest first, among those sharing the service and an alert before the others.
    close = sorted(
        (m for m in matches if (m.similarity or 0.0) >= FAIR),
        key=lambda m: (not (m.same_service and m.shares_alert), -(m.similarity or 0.0)),
    )
    for match in close[:2]:
        evidence.append(Evidence(match.ref, match.document.title, match.document.text))
        said = f"It looks like {match.ref} ({match.document.title}; {', '.join(match.reasons)})"
        sentences.append(
            f"{said}, fixed then by: {match.fix} [{match.ref}]."
            if match.fix
            else f"{said} [{match.ref}]."
        )
    for suggestion in suggestions[:2]:
        if suggestion.target.startswith("runbook:"):
            cite = suggestion.target
            evidence.append(Evidence(cite, suggestion.title, suggestion.detail or suggestion.title))
            sentences.append(f"The runbook {suggestion.title} fits ({suggestion.record}) [{cite}].")
    best = max((m.similarity or 0.0 for m in matches), default=0.0)
    if best >= STRONG and (cause is not None or any(m.fix for m in close)):
        confidence = "high"
    elif close or cause is not None:
        confidence = "medium" if close else "low"
    else:
        confidence = "none"
    if confidence == "none":
        sentences.insert(
            0,
            f"Not enough evidence: no past incident, postmortem or root cause explains {ref} yet "
            f"[{ref}].",
        )
    return Answer(" ".join(sentences), confidence, tuple(evidence))


def answer_question(question: str, hits: Sequence[Hit], *, floor: float = 0.3) -> Answer:
    """The best passages for `question`, each cited; "Not enough evidence" if none is close."""
    useful = [
        h for h in hits if (h.similarity or 0.0) >= floor or (h.coverage or 0.0) >= WORDS_EVIDENCE
    ][:4]
    if not useful:
        return Answer(
            "Not enough evidence: nothing in past incidents, postmortems or runbooks matches "
            "that question.",
            "none",
            (),
        )
    evidence = []
    lines = []
    for hit in useful:
        document = hit.document
        cite = document.citation
        evidence.append(Evidence(cite, document.title, document.text))
        passage = best_lines(document.text, question)
        if not passage and document.excerpt().lstrip("# ") != document.title:
            passage = document.excerpt()  # a one-line document: the line, unless the title
        said = f"• **{document.title}**: {passage}" if passage else f"• **{document.title}**"
        lines.append(f"{said} [{cite}]")
    top = useful[0].similarity or 0.0
    confidence = "high" if top >= STRONG else "medium" if top >= FAIR else "low"
    return Answer("\n".join(lines), confidence, tuple(evidence))
