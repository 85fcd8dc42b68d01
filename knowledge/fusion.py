"""Fusion of the lexical and the vector ranking into one.

The default is a convex combination of the two sides' scores, each normalized over the
candidates of the query: score(d) = w · bm25(d) / max bm25 + (1 − w) · (cos(d) − min cos) /
(max cos − min cos), with w = 0.5 (neither side favoured). Bruch, Gai & Ingber 2023, "An
Analysis of Fusion Functions for Hybrid Retrieval" (ACM TOIS 42(1)), find it better than
reciprocal-rank fusion in and out of domain: a document that one side ranks first by far
keeps that lead, where RRF gives it no more than any first place and lets documents both
sides rank in the middle overtake it. BM25's theoretical minimum, 0, is its lower bound.
Every candidate needs both scores: the index asks Chroma for the similarity of those only
BM25 found; a document BM25 did not return scores 0 on words.

Reciprocal-rank fusion stays for rankings without comparable scores: score(d) = Σ over
rankings r of 1 / (k + rank_r(d)), k = 60 (Cormack, Clarke & Büttcher 2009, "Reciprocal Rank
Fusion outperforms Condorcet and Individual Rank Learning Methods", SIGIR '09).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

RRF_K = 60
LEXICAL_WEIGHT = 0.5


def convex_combination(
    lexical: Mapping[str, float],
    vector: Mapping[str, float],
    *,
    lexical_weight: float = LEXICAL_WEIGHT,
) -> list[tuple[str, float, dict[str, int]]]:
    """(document id, fused score in [0, 1], {side: rank}) best first, for every document
    either side scored. `lexical`: BM25 scores (≥ 0) of the lexical candidates; `vector`:
    cosine similarities of every candidate the vector side can score. Ties keep the order
    of first appearance, lexical candidates first."""
    candidates = list(dict.fromkeys([*lexical, *vector]))
    top = max(lexical.values(), default=0.0)
    low = min(vector.values(), default=0.0)
    spread = max(vector.values(), default=0.0) - low
    scores = {
        doc_id: lexical_weight * (lexical.get(doc_id, 0.0) / top if top > 0 else 0.0)
        + (1 - lexical_weight)
        * ((vector[doc_id] - low) / spread if doc_id in vector and spread > 0 else 0.0)
        for doc_id in candidates
    }
    ranks: dict[str, dict[str, int]] = {doc_id: {} for doc_id in candidates}
    for name, side in (("lexical", lexical), ("vector", vector)):
        ordered = sorted(side, key=lambda doc_id: -side[doc_id])
        for position, doc_id in enumerate(ordered, start=1):
            ranks[doc_id][name] = position
    order = sorted(candidates, key=lambda doc_id: -scores[doc_id])
    return [(doc_id, scores[doc_id], ranks[doc_id]) for doc_id in order]


def reciprocal_rank_fusion(
    rankings: Mapping[str, Sequence[str]], *, k: int = RRF_K
) -> list[tuple[str, float, dict[str, int]]]:
    """(document id, fused score, {ranking name: rank}) best first; ties keep the order of
    first appearance in the rankings as given."""
    scores: dict[str, float] = {}
    ranks: dict[str, dict[str, int]] = {}
    for name, ranking in rankings.items():
        for position, doc_id in enumerate(ranking, start=1):
            if name in ranks.setdefault(doc_id, {}):
                continue  # a ranking names a document once
            scores[doc_id] = scores.get(doc_id, 0.0) + 1.0 / (k + position)
            ranks[doc_id][name] = position
    order = sorted(scores, key=lambda doc_id: -scores[doc_id])
    return [(doc_id, scores[doc_id], ranks[doc_id]) for doc_id in order]
