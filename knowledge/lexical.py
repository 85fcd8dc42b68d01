"""Lexical retrieval: BM25 over the documents' words, with bm25s.

Alert names, service names and error strings match best exactly, so the tokenizer keeps
identifiers whole *and* splits them: `PostgresConnectionsExhausted` gives
`postgresconnectionsexhausted`, `postgres`, `connections`, `exhausted`; `docker_nodes` gives
`docker_nodes`, `docker`, `nodes`. Scoring is Lucene's BM25 (Robertson & Zaragoza 2009, "The
Probabilistic Relevance Framework: BM25 and Beyond") as bm25s computes it (Lù 2024).

Each hit also says how much of the query the document covers (the IDF-weighted share of
the query's tokens it contains): a document sharing one incidental word with a question
written in other words covers little of it, and the hybrid search does not let it compete.

The index is rebuilt from token ids kept per document (in a worker thread, by the caller);
a query reads whichever snapshot is current, so a rebuild never blocks one.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field

import bm25s
import numpy as np
import numpy.typing as npt

_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]*")
_CAMEL = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")
# Function words only: domain words ("down", "high", "not") carry meaning in alerts.
STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "been",
        "by",
        "for",
        "from",
        "had",
        "has",
        "have",
        "how",
        "i",
        "in",
        "into",
        "is",
        "it",
        "its",
        "of",
        "on",
        "or",
        "our",
        "that",
        "the",
        "their",
        "then",
        "there",
        "these",
        "this",
        "those",
        "to",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "will",
        "with",
        "did",
        "does",
        "do",
        "you",
        "your",
        "after",
        "before",
        "over",
        "under",
        "again",
        "about",
    ]
)


def tokenize(text: str) -> list[str]:
    """Lower-case tokens: each identifier whole, then its camelCase / snake / dotted parts."""
    tokens: list[str] = []
    for word in _WORD.findall(text):
        whole = word.lower().strip(".-_")
        parts = [p.lower() for piece in re.split(r"[_.\-]+", word) for p in _CAMEL.findall(piece)]
        if whole and whole not in STOPWORDS:
            tokens.append(whole)
        if len(parts) > 1 or (parts and parts[0] != whole):
            tokens.extend(p for p in parts if p not in STOPWORDS and p != whole)
    return tokens


@dataclass
class _Snapshot:
    ids: list[str]
    kinds: npt.NDArray[np.int8]
    retriever: bm25s.BM25 | None
    tokens: list[npt.NDArray[np.int32]] = field(default_factory=list)
    idf: npt.NDArray[np.float32] = field(default_factory=lambda: np.zeros(0, dtype=np.float32))
    # Each document's owner (a project, or `*` for everyone's) as a code of `_owners`.
    owners: npt.NDArray[np.int32] = field(default_factory=lambda: np.zeros(0, dtype=np.int32))
    codes: dict[str, int] = field(default_factory=dict)  # owner → its code


@dataclass(frozen=True)
class LexicalHit:
    doc_id: str
    score: float  # BM25
    # Share of the query's information (its tokens' IDF, unknown tokens counting as the
    # rarest) that the document contains: 1.0 when it has every word of the query.
    coverage: float


@dataclass
class LexicalIndex:
    """Documents' token ids by document id; `rebuild()` makes a new searchable snapshot.
    Each document has an owner (a project name, or `*`: everyone's) that a search may be
    restricted to before ranking."""

    kinds: Sequence[str] = ("incident", "postmortem", "runbook")
    _vocab: dict[str, int] = field(default_factory=dict)
    _docs: dict[str, tuple[int, npt.NDArray[np.int32]]] = field(default_factory=dict)
    _owner_of: dict[str, int] = field(default_factory=dict)
    _owners: dict[str, int] = field(default_factory=dict)
    _snapshot: _Snapshot = field(
        default_factory=lambda: _Snapshot([], np.zeros(0, dtype=np.int8), None)
    )
    dirty: bool = False

    def __len__(self) -> int:
        return len(self._docs)

    def put(self, doc_id: str, kind: str, text: str, owner: str = "*") -> None:
        ids = [self._vocab.setdefault(token, len(self._vocab)) for token in tokenize(text)]
        self._docs[doc_id] = (self.kinds.index(kind), np.asarray(ids, dtype=np.int32))
        self._owner_of[doc_id] = self._owners.setdefault(owner, len(self._owners))
        self.dirty = True

    def remove(self, doc_ids: Iterable[str]) -> None:
        for doc_id in doc_ids:
            self._owner_of.pop(doc_id, None)
            if self._docs.pop(doc_id, None) is not None:
                self.dirty = True

    def rebuild(self) -> None:
        """A new snapshot from the documents as they are now (seconds at 100,000 documents:
        run it in a worker thread)."""
        ids = list(self._docs)
        self.dirty = False
        if not ids:
            self._snapshot = _Snapshot([], np.zeros(0, dtype=np.int8), None)
            return
        kinds = np.asarray([self._docs[i][0] for i in ids], dtype=np.int8)
        retriever = bm25s.BM25(method="lucene")
        vocab = dict(self._vocab)
        vocab.setdefault("", len(vocab))  # bm25s scores documents without tokens with it
        corpus = [self._docs[i][1].tolist() or [vocab[""]] for i in ids]
        retriever.index((corpus, vocab), show_progress=False, create_empty_token=False)
        # Lucene's IDF from each token's document frequency (the CSC matrix's column sizes).
        frequency = np.diff(np.asarray(retriever.scores["indptr"])).astype(np.float64)
        frequency = np.pad(frequency, (0, max(0, len(vocab) - len(frequency))))
        idf = np.log1p((len(ids) - frequency + 0.5) / (frequency + 0.5)).astype(np.float32)
        tokens = [self._docs[i][1] for i in ids]
        owners = np.asarray([self._owner_of.get(i, -1) for i in ids], dtype=np.int32)
        self._snapshot = _Snapshot(ids, kinds, retriever, tokens, idf, owners, dict(self._owners))

    def search(
        self,
        query: str,
        *,
        limit: int,
        kinds: Collection[str] | None = None,
        owners: Collection[str] | None = None,
    ) -> list[LexicalHit]:
        """Up to `limit` hits with a BM25 score > 0, best first; with `owners`, only
        documents owned by one of them (the filter applies before ranking, so the `limit`
        is filled with allowed documents)."""
        snapshot = self._snapshot
        if snapshot.retriever is None:
            return []
        vocab = snapshot.retriever.vocab_dict
        words = list(dict.fromkeys(tokenize(query)))
        token_ids = [vocab[t] for t in words if t in vocab]
        if not token_ids:
            return []
        scores = np.asarray(snapshot.retriever.get_scores(token_ids), dtype=np.float32)
        if kinds is not None:
            allowed = np.isin(snapshot.kinds, [self.kinds.index(k) for k in kinds])
            scores = np.where(allowed, scores, 0.0)
        if owners is not None:
            codes = [snapshot.codes[o] for o in owners if o in snapshot.codes]
            scores = np.where(np.isin(snapshot.owners, codes), scores, 0.0)
        count = min(limit, len(scores))
        top = np.argpartition(-scores, count - 1)[:count]
        top = top[np.argsort(-scores[top], kind="stable")]
        weights = snapshot.idf[token_ids]
        rarest = float(snapshot.idf.max()) if len(snapshot.idf) else 1.0
        total = float(weights.sum()) + rarest * (len(words) - len(token_ids))
        wanted = np.asarray(token_ids, dtype=np.int32)
        hits = []
        for i in top:
            if scores[i] <= 0:
                continue
            present = np.isin(wanted, snapshot.tokens[i])
            coverage = float(weights[present].sum()) / total if total else 0.0
            hits.append(LexicalHit(snapshot.ids[i], float(scores[i]), coverage))
        return hits
