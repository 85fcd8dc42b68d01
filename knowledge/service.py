"""Knowledge as the rest of Lookout sees it: the index, its sync, the optional LLM and the
thresholds, with searches that say when the index is behind the database."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, replace
from typing import Protocol

from knowledge.documents import DocumentKind
from knowledge.index import KnowledgeIndex, SearchResult
from knowledge.llm import LLMClient
from knowledge.sync import KnowledgeSync
from storage.alerts import AlertRepository
from storage.feedback import FeedbackRepository
from storage.knowledge import KnowledgeRepository

# Timeline events that change what the index holds (a resolve, a note, a run, a merge, a
# reopening); "notified" or an alert joining an open incident change no document.
DOCUMENT_EVENTS = ("resolved", "note", "runbook", "merged", "split", "reopened")


class Reader(Protocol):
    """The repositories retrieval reads: a unit of work, or a skill's slice of one."""

    @property
    def alerts(self) -> AlertRepository: ...

    @property
    def knowledge(self) -> KnowledgeRepository: ...

    @property
    def feedback(self) -> FeedbackRepository: ...


@dataclass(frozen=True)
class KnowledgeRules:
    """Thresholds from the `knowledge:` config section."""

    # "Seen before?" replies only for a past incident of the same service, with an alert in
    # common, at least this close (cosine similarity of the two incidents' descriptions).
    seen_before_similarity: float = 0.45
    # `similar` lists matches at least this close, or sharing words / alerts.
    similar_min_similarity: float = 0.35
    # How many past incidents `suggest` and `explain` look at.
    neighbours: int = 5


@dataclass
class Knowledge:
    index: KnowledgeIndex
    sync: KnowledgeSync
    rules: KnowledgeRules
    llm: LLMClient | None = None
    # The projects whose documents searches see; None: all of them (one team).
    projects: frozenset[str] | None = None

    def scoped(self, projects: frozenset[str] | None) -> Knowledge:
        """The same knowledge, searching only `projects`' documents and everyone's
        (None: every document). Retrieval filters before ranking."""
        return replace(self, projects=projects)

    async def behind(self, repository: KnowledgeRepository) -> int:
        """How many timeline changes the index has not caught up with yet (0 while it is
        still loading): a database read, done before searching so that the search itself
        needs no transaction."""
        if not self.index.loaded:
            return 0
        return await repository.changes_after(
            after_event=self.index.watermark, kinds=DOCUMENT_EVENTS
        )

    async def search(
        self,
        query: str,
        *,
        limit: int = 10,
        kinds: Collection[DocumentKind] | None = None,
        exclude: Collection[str] = (),
        behind: int = 0,
    ) -> SearchResult:
        """`index.search`, plus a note when the index is still loading or, by `behind`
        (see `behind()`), has not caught up with the database (it still answers from what
        it holds). Asks Chroma and the embedder: call it with no transaction open."""
        result = await self.index.search(
            query, limit=limit, kinds=kinds, exclude=exclude, projects=self.projects
        )
        notes = list(result.notes)
        if not self.index.loaded:
            notes.append("The knowledge index is still loading; results may be incomplete.")
        elif behind > 0:
            notes.append(
                f"The index is catching up ({behind} timeline change"
                f"{'s' if behind != 1 else ''} not indexed yet); the newest incidents "
                "may be missing."
            )
        return SearchResult(hits=result.hits, notes=notes)
