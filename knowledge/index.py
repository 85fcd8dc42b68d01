"""The hybrid index: dense vectors in Chroma and BM25 in memory, fused by a convex
combination of their normalized scores (`knowledge.fusion`).

Writes (`apply`) embed only documents whose digest changed, so indexing is idempotent and a
re-sync of unchanged data costs no model time. Queries never wait for a write: the BM25
snapshot is swapped when a rebuild finishes, and Chroma serves what it has. When one side
fails (Chroma unreachable, the model not loaded) the other answers and the result says so.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field

from core.projects import DEFAULT_PROJECT
from knowledge.documents import (
    EVERYONE,
    Document,
    DocumentKind,
    embedding_text,
    lexical_text,
    owner_of,
    prose,
)
from knowledge.embeddings import Embedder, EmbeddingError
from knowledge.fusion import convex_combination
from knowledge.lexical import LexicalIndex
from knowledge.synonyms import Thesaurus, shipped
from knowledge.threads import INDEXING, in_thread
from knowledge.vectors import ChromaStore, VectorHit, VectorStoreError

log = logging.getLogger(__name__)

CANDIDATES = 50  # from each side
# A document found on words alone is evidence only if it holds at least half of the
# query's information, words the corpus never uses included (`LexicalHit.coverage`):
# sharing "checkout" with "how do I bake a cake for checkout" answers nothing.
WORDS_EVIDENCE = 0.5


@dataclass(frozen=True)
class Hit:
    """One fused result: the document, its fused score and what each side said."""

    document: Document
    score: float
    # Cosine similarity to the query (for a candidate only BM25 found, of its stored
    # vector); None when the vector side could not answer.
    similarity: float | None
    lexical: float | None  # BM25 score when the lexical side found it
    ranks: Mapping[str, int] = field(default_factory=dict)
    # The share of the whole query's information the document holds, words unknown to the
    # corpus included (`LexicalHit.coverage`), when the lexical side found it.
    coverage: float | None = None


@dataclass(frozen=True)
class SearchResult:
    hits: list[Hit]
    notes: list[str] = field(default_factory=list)  # why the answer may be incomplete


class KnowledgeIndex:
    def __init__(
        self,
        *,
        embedder: Embedder,
        store: ChromaStore,
        candidates: int = CANDIDATES,
        default_project: str = DEFAULT_PROJECT,
        thesaurus: Thesaurus | None = None,
    ) -> None:
        self.embedder = embedder
        self.store = store
        self.candidates = candidates
        # Where a document indexed without a project (before projects existed) belongs.
        self.default_project = default_project
        self.thesaurus = thesaurus if thesaurus is not None else shipped()
        self.lexical = LexicalIndex(thesaurus=self.thesaurus)
        self.loaded = False
        # Timeline events (ids) whose changes the index holds; the database's newest event
        # beyond it means the index is behind (see `knowledge.service`).
        self.watermark = 0
        self._stored: dict[str, str] = {}  # digests in Chroma
        self._seen: dict[str, str] = {}  # digests in the BM25 side
        self._titles: dict[str, tuple[DocumentKind, str]] = {}
        self._write_lock = asyncio.Lock()

    def __len__(self) -> int:
        return len(self._seen)

    def digest(self, doc_id: str) -> str | None:
        return self._seen.get(doc_id)

    def ids(self, prefix: str = "") -> list[str]:
        return [doc_id for doc_id in self._seen if doc_id.startswith(prefix)]

    async def load(self) -> None:
        """Read what Chroma holds and build BM25 from it (at start, in the background)."""
        async with self._write_lock:
            documents = await self.store.documents()
            self._stored = {d.id: d.digest for d in documents}
            for document in documents:
                self._remember(document)
            await in_thread(INDEXING, self.lexical.rebuild)
            self.loaded = True

    async def apply(self, upserts: Sequence[Document], deletions: Sequence[str] = ()) -> int:
        """Index `upserts` (embedding those Chroma lacks or holds older) and remove
        `deletions`; returns how many documents were embedded. Raises VectorStoreError or
        EmbeddingError with nothing half-written to BM25."""
        async with self._write_lock:
            unique = {d.id: d for d in upserts}
            stale = [d for d in unique.values() if self._stored.get(d.id) != d.digest]
            gone = [doc_id for doc_id in dict.fromkeys(deletions) if doc_id not in unique]
            if stale:
                vectors = await self.embedder.embed([embedding_text(d) for d in stale])
                await self.store.upsert(stale, vectors)
                self._stored.update({d.id: d.digest for d in stale})
            if gone:
                await self.store.delete(gone)
                for doc_id in gone:
                    self._stored.pop(doc_id, None)
            changed = [d for d in unique.values() if self._seen.get(d.id) != d.digest]
            for document in changed:
                self._remember(document)
            for doc_id in gone:
                self._seen.pop(doc_id, None)
                self._titles.pop(doc_id, None)
            self.lexical.remove(gone)
            if self.lexical.dirty:
                await in_thread(INDEXING, self.lexical.rebuild)
            return len(stale)

    async def reset(self) -> None:
        """Forget everything (Chroma's collection too): `lookout knowledge reindex`."""
        async with self._write_lock:
            await self.store.drop()
            self._stored.clear()
            self._seen.clear()
            self._titles.clear()
            self.lexical = LexicalIndex(thesaurus=self.thesaurus)
            self.watermark = 0

    def _remember(self, document: Document) -> None:
        self._seen[document.id] = document.digest
        self._titles[document.id] = (document.kind, document.title)
        self.lexical.put(
            document.id,
            document.kind,
            lexical_text(document),
            owner_of(document, self.default_project),
        )

    async def search(
        self,
        query: str,
        *,
        limit: int = 10,
        kinds: Collection[DocumentKind] | None = None,
        exclude: Collection[str] = (),
        projects: Collection[str] | None = None,
    ) -> SearchResult:
        """The documents that best answer `query`, fused from BM25 and vectors. With
        `projects`, only documents of those projects and everyone's (runbooks no project
        claims) take part: both sides filter before ranking, so the top is filled with
        documents the asker may see. None: every document (one team)."""
        notes: list[str] = []
        extra = len(exclude)
        owners = None if projects is None else sorted({*projects, EVERYONE})
        lexical = [
            hit
            for hit in self.lexical.search(
                query, limit=self.candidates + extra, kinds=kinds, owners=owners
            )
            if hit.doc_id not in exclude
        ]
        vector_hits: list[VectorHit] = []
        similarity: dict[str, float] = {}
        chroma_failed = False
        try:
            vector = await self.embedder.embed([prose(query)])
            vector_hits = await self.store.query(
                vector[0], limit=self.candidates + extra, kinds=kinds, projects=owners
            )
            similarity = {
                h.document.id: h.similarity for h in vector_hits if h.document.id not in exclude
            }
            # Fusion compares both scores of every candidate: those only BM25 found get
            # their similarity from their stored vectors.
            similarity |= await self.store.similarities(
                vector[0], [h.doc_id for h in lexical if h.doc_id not in similarity]
            )
        except VectorStoreError as error:
            chroma_failed = True
            log.warning("vector search failed; answering from BM25", extra={"error": str(error)})
            notes.append(
                f"{error.missing}; matched on words only, so vector search is missing "
                "from this answer."
            )
        except EmbeddingError as error:
            log.warning("vector search failed; answering from BM25", extra={"error": str(error)})
            notes.append(
                "The embedding model could not embed the question; matched on words only, "
                "so vector search is missing from this answer."
            )
        fused = convex_combination({h.doc_id: h.score for h in lexical}, similarity)[:limit]
        known = {h.document.id: h for h in vector_hits}
        bm25 = {h.doc_id: h for h in lexical}
        missing = [doc_id for doc_id, _, _ in fused if doc_id not in known]
        # With the vector side down, asking Chroma for the passages would wait out its
        # timeout a second time: the hits keep their titles.
        fetched = await self._fetch(missing, notes) if not chroma_failed else []
        documents = {d.id: d for d in fetched}
        hits = []
        for doc_id, score, ranks in fused:
            document = known[doc_id].document if doc_id in known else documents.get(doc_id)
            if document is None:
                kind, title = self._titles.get(doc_id, ("incident", doc_id))
                document = Document(id=doc_id, kind=kind, title=title, text="")
            hits.append(
                Hit(
                    document=document,
                    score=score,
                    similarity=similarity.get(doc_id),
                    lexical=bm25[doc_id].score if doc_id in bm25 else None,
                    ranks=ranks,
                    coverage=bm25[doc_id].coverage if doc_id in bm25 else None,
                )
            )
        return SearchResult(hits=hits, notes=notes)

    async def _fetch(self, ids: list[str], notes: list[str]) -> list[Document]:
        if not ids:
            return []
        try:
            return await self.store.documents(ids)
        except VectorStoreError as error:
            if not notes:
                notes.append(
                    f"{error.missing}; the passages are missing from this answer (titles only)."
                )
            return []
