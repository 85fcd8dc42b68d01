"""Reciprocal-rank fusion of several rankings into one.

score(d) = Σ over rankings r of 1 / (k + rank_r(d)), ranks from 1; documents a ranking lacks
get nothing from it. k = 60 as in Cormack, Clarke & Büttcher 2009, "Reciprocal Rank Fusion
outperforms Condorcet and Individual Rank Learning Methods" (SIGIR '09). It needs no score
calibration between BM25 and cosine similarity, which is why it fuses them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

RRF_K = 60


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
