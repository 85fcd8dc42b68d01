"""`suggest`: runbooks and past fixes for an incident, ranked by relevance × past success for
incidents of its kind.

Success is counted from what happened to incidents like it: runbook runs that worked or
failed on the similar past incidents, and people's votes ("This fixed it" and 👍 count for,
👎 against). The rate is Laplace's rule of succession, (successes + 1) / (tries + 2), so one
lucky run does not outrank a fix that worked 4 times of 5, and an untried suggestion sits at
½. A 👎 that is the latest word on a suggestion for this kind hides it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from knowledge.documents import DocumentKind
from knowledge.index import WORDS_EVIDENCE, SearchResult
from knowledge.service import Knowledge
from knowledge.similar import Match, Target
from storage.feedback import FeedbackRepository, TargetRecord

GOOD_RUNS = ("succeeded",)
BAD_RUNS = ("failed", "rolled_back")
RUNBOOKS: tuple[DocumentKind, ...] = ("runbook",)
LEXICAL_ONLY = 0.3


@dataclass(frozen=True)
class Suggestion:
    target: str  # runbook:<name> or incident:<id> (the fix of a past incident)
    title: str
    detail: str
    relevance: float  # 0..1
    successes: int
    tries: int
    evidence: tuple[str, ...]  # citations: the incidents it worked (or not) on

    @property
    def success_rate(self) -> float:
        return (self.successes + 1) / (self.tries + 2)

    @property
    def score(self) -> float:
        return self.relevance * self.success_rate

    @property
    def record(self) -> str:
        if not self.tries:
            return "not tried on incidents like this yet"
        return f"worked {self.successes}/{self.tries} times"


def _runbook_name(target: str) -> str:
    return target.partition(":")[2]


async def runbook_search(knowledge: Knowledge, target: Target, *, behind: int = 0) -> SearchResult:
    """The runbooks whose descriptions answer the incident's (no database: run it with no
    transaction open, then rank with `suggestions`)."""
    return await knowledge.search(target.text, limit=8, kinds=RUNBOOKS, behind=behind)


async def suggestions(
    feedback: FeedbackRepository,
    target: Target,
    *,
    runbooks: SearchResult,
    matches: Sequence[Match],
    triggered: Mapping[str, float],
    runbook_titles: dict[str, str],
    limit: int = 6,
) -> tuple[list[Suggestion], list[str], list[str]]:
    """(suggestions best first, hidden targets, notes). `runbooks`: `runbook_search`'s
    answer; `triggered`: runbooks whose triggers match the incident's alerts, with a
    relevance; `matches`: its similar past incidents. Reads people's votes."""
    result = runbooks
    relevance: dict[str, float] = {}
    for hit in result.hits:
        # How close the runbook's description is to the incident's; a match on words only
        # counts as a weak relevance.
        words = (hit.coverage or 0.0) >= WORDS_EVIDENCE
        close = max(hit.similarity or 0.0, LEXICAL_ONLY if words else 0.0)
        relevance[hit.document.id] = max(relevance.get(hit.document.id, 0.0), close)
    for name, weight in triggered.items():
        key = f"runbook:{name}"
        relevance[key] = max(relevance.get(key, 0.0), weight)
    titles: dict[str, str] = {k: runbook_titles.get(_runbook_name(k), k) for k in relevance}
    details: dict[str, str] = {k: "" for k in relevance}
    counts: dict[str, list[int]] = {}
    evidence: dict[str, list[str]] = {}
    for match in matches:
        weight = match.similarity if match.similarity is not None else 0.5
        for name, status in match.runs:
            key = f"runbook:{name}"
            relevance[key] = max(relevance.get(key, 0.0), weight)
            titles.setdefault(key, runbook_titles.get(name, name))
            details.setdefault(key, "")
            good, tries = counts.get(key, [0, 0])
            counts[key] = [good + (status in GOOD_RUNS), tries + 1]
            evidence.setdefault(key, []).append(match.ref)
        if match.fix:
            relevance[match.target] = max(relevance.get(match.target, 0.0), weight)
            titles[match.target] = f"As in {match.ref}: {match.fix}"
            details[match.target] = match.document.title
            evidence.setdefault(match.target, []).append(match.ref)
    votes = await feedback.for_kind(incident_kind=target.kind, targets=list(relevance))
    ranked: list[Suggestion] = []
    hidden: list[str] = []
    for key, value in relevance.items():
        record = votes.get(key, TargetRecord())
        if record.hidden:
            hidden.append(key)
            continue
        good, tries = counts.get(key, [0, 0])
        good += record.fixed + record.up
        tries += record.fixed + record.up + record.down
        ranked.append(
            Suggestion(
                target=key,
                title=titles.get(key, key),
                detail=details.get(key, ""),
                relevance=value,
                successes=good,
                tries=tries,
                evidence=tuple(dict.fromkeys(evidence.get(key, []))),
            )
        )
    ranked.sort(key=lambda s: (-s.score, s.target))
    return ranked[:limit], hidden, result.notes
