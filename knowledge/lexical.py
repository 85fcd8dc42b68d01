"""Lexical retrieval: BM25 over the documents' words, with bm25s.

Alert names, service names and error strings match best exactly, so the tokenizer keeps
identifiers whole *and* splits them: `PostgresConnectionsExhausted` gives
`postgresconnectionsexhausted`, `postgres`, `connections`, `exhausted`; `docker_nodes` gives
`docker_nodes`, `docker`, `nodes`. Scoring is Lucene's BM25 (Robertson & Zaragoza 2009, "The
Probabilistic Relevance Framework: BM25 and Beyond") as bm25s computes it (Lù 2024).

Words also match their other forms and what they mean: each token's Snowball stem and the
concepts of the operations thesaurus (`knowledge.synonyms`) are indexed beside it. A query
scores each of its words once, by the best of its forms (the word, its stem, its concepts),
as Lucene's SynonymQuery does, so a word with many synonyms does not count many times.

Each hit also says how much of the query the document covers (the IDF-weighted share of
the query's words it contains in some form): a document sharing one incidental word with a
question written in other words covers little of it, and the hybrid search does not let it
compete.

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
from rapidfuzz import process
from rapidfuzz.distance import OSA

from knowledge.synonyms import Thesaurus, shipped, stem, words

# A query word the documents never use, of at least this many letters, is matched to their
# closest words as a misspelling ("databse" → "database"), at most `CORRECTIONS` of them.
MIN_CORRECTED = 5
CORRECTIONS = 3

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
    return [token for tokens in _word_tokens(text) for token in tokens]


def _word_tokens(text: str) -> list[list[str]]:
    """The tokens of each identifier of `text`, in order (an empty list for a stopword),
    one list per `synonyms.words` entry, so that thesaurus matches line up with them."""
    found: list[list[str]] = []
    for word in (w.text for w in words(text)):
        tokens = []
        whole = word.lower().strip(".-_")
        parts = [p.lower() for piece in re.split(r"[_.\-]+", word) for p in _CAMEL.findall(piece)]
        if whole and whole not in STOPWORDS:
            tokens.append(whole)
        if len(parts) > 1 or (parts and parts[0] != whole):
            tokens.extend(p for p in parts if p not in STOPWORDS and p != whole)
        found.append(tokens)
    return found


def document_tokens(text: str, thesaurus: Thesaurus) -> list[str]:
    """What the index holds for a text: its tokens, the stem of each where it differs,
    and one concept token per thesaurus term found."""
    tokens: list[str] = []
    for token in tokenize(text):
        tokens.append(token)
        stemmed = stem(token)
        if stemmed != token:
            tokens.append(stemmed)
    tokens.extend(concept for concept, _, _ in thesaurus.concepts(words(text)))
    return tokens


def query_slots(text: str, thesaurus: Thesaurus) -> list[tuple[str, ...]]:
    """One slot per distinct query token: the token, then its stem and the concepts of the
    thesaurus terms its word is part of. A document matches a slot by any of them."""
    around: dict[int, list[str]] = {}
    for concept, first, last in thesaurus.concepts(words(text)):
        for index in range(first, last + 1):
            around.setdefault(index, []).append(concept)
    slots: dict[str, tuple[str, ...]] = {}
    for index, tokens in enumerate(_word_tokens(text)):
        for token in tokens:
            if token not in slots:
                slots[token] = tuple(dict.fromkeys([token, stem(token), *around.get(index, [])]))
    return list(slots.values())


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
    # Words of the documents by first letter, for correcting a misspelt query word.
    spelling: dict[str, list[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class LexicalHit:
    doc_id: str
    score: float  # BM25
    # Share of the query's information (each query word's IDF; a word the corpus lacks in
    # every form counts as the rarest) that the document holds, each word in any of its
    # forms: 1.0 when it has every word of the query.
    coverage: float


@dataclass
class LexicalIndex:
    """Documents' token ids by document id; `rebuild()` makes a new searchable snapshot.
    Each document has an owner (a project name, or `*`: everyone's) that a search may be
    restricted to before ranking."""

    kinds: Sequence[str] = ("incident", "postmortem", "runbook")
    thesaurus: Thesaurus = field(default_factory=shipped)
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
        ids = [
            self._vocab.setdefault(token, len(self._vocab))
            for token in document_tokens(text, self.thesaurus)
        ]
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
        spelling: dict[str, list[str]] = {}
        for token, token_id in vocab.items():
            if len(token) >= MIN_CORRECTED and token.isalpha() and frequency[token_id] > 0:
                spelling.setdefault(token[0], []).append(token)
        self._snapshot = _Snapshot(
            ids, kinds, retriever, tokens, idf, owners, dict(self._owners), spelling
        )

    def _corrected(self, snapshot: _Snapshot, word: str) -> list[str]:
        """What a query word the documents never use may have meant: their words (same
        first letter) within `_typos_allowed` edits, transpositions counting as one
        (optimal string alignment), the closest first, with the concepts of each."""
        allowed = _typos_allowed(word)
        if not allowed or not word.isalpha():
            return []
        found = process.extract(
            word,
            snapshot.spelling.get(word[0], ()),
            scorer=OSA.distance,
            score_cutoff=allowed,
            limit=CORRECTIONS,
        )
        corrections = [token for token, _, _ in sorted(found, key=lambda item: item[1])]
        concepts = [c for t in corrections for c, _, _ in self.thesaurus.concepts(words(t))]
        return list(dict.fromkeys([*corrections, *concepts]))

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
        slots = []
        for slot in query_slots(query, self.thesaurus):
            known = [vocab[token] for token in slot if token in vocab]
            if not known:
                known = [vocab[t] for t in self._corrected(snapshot, slot[0]) if t in vocab]
            slots.append(known)
        if not any(slots):
            return []
        scores = _slot_scores(snapshot, slots)
        if kinds is not None:
            allowed = np.isin(snapshot.kinds, [self.kinds.index(k) for k in kinds])
            scores = np.where(allowed, scores, 0.0)
        if owners is not None:
            codes = [snapshot.codes[o] for o in owners if o in snapshot.codes]
            scores = np.where(np.isin(snapshot.owners, codes), scores, 0.0)
        count = min(limit, len(scores))
        top = np.argpartition(-scores, count - 1)[:count]
        top = top[np.argsort(-scores[top], kind="stable")]
        rarest = float(snapshot.idf.max()) if len(snapshot.idf) else 1.0
        # A slot weighs what its word tells: the word's IDF, or its best-known form's when
        # the corpus lacks the word itself, or the rarest word's when it lacks every form.
        weights = [float(snapshot.idf[slot].max()) if slot else rarest for slot in slots]
        total = sum(weights)
        hits = []
        for i in top:
            if scores[i] <= 0:
                continue
            held = snapshot.tokens[i]
            covered = sum(
                weight
                for weight, slot in zip(weights, slots, strict=True)
                if np.isin(slot, held).any()
            )
            hits.append(LexicalHit(snapshot.ids[i], float(scores[i]), covered / total))
        return hits


def _typos_allowed(word: str) -> int:
    """Edits a word of this length may be away from the word meant: none below
    `MIN_CORRECTED` letters, one up to 7, two from 8 (Elasticsearch's AUTO fuzziness,
    a little stricter)."""
    if len(word) < MIN_CORRECTED:
        return 0
    return 1 if len(word) < 8 else 2


def _slot_scores(snapshot: _Snapshot, slots: list[list[int]]) -> npt.NDArray[np.float32]:
    """Each document's BM25 score: the sum over slots of the best score among a slot's
    token ids (a plain BM25 sum when every slot has one token)."""
    assert snapshot.retriever is not None
    matrix = snapshot.retriever.scores
    data, indices, indptr = matrix["data"], matrix["indices"], matrix["indptr"]
    total = np.zeros(len(snapshot.ids), dtype=np.float32)
    for slot in slots:
        best = np.zeros(len(snapshot.ids), dtype=np.float32) if len(slot) > 1 else total
        for token_id in slot:
            if token_id + 1 >= len(indptr):
                continue  # a token of removed documents only, after the last rebuild
            start, end = indptr[token_id], indptr[token_id + 1]
            rows = indices[start:end]
            if best is total:
                total[rows] += data[start:end]
            else:
                best[rows] = np.maximum(best[rows], data[start:end])
        if best is not total:
            total += best
    return total
