"""How close a grouping is to the truth: pairwise precision/recall/F1 and adjusted Rand index.

Both count pairs of alerts. A pair is "together" when both alerts are in the same incident.
Precision: of the pairs an engine put together, the share that truly belong together;
recall: of the pairs that belong together, the share it put together. The adjusted Rand
index also credits pairs correctly kept apart, corrected for chance (0 = random, 1 = exact).
Computed from the contingency table, so a 10,000-alert storm needs no 50-million-pair loop.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class PairScores:
    precision: float
    recall: float
    f1: float
    adjusted_rand: float


def _pairs(count: int) -> int:
    return count * (count - 1) // 2


def pairwise_scores(truth: Sequence[int], predicted: Sequence[int]) -> PairScores:
    if len(truth) != len(predicted):
        raise ValueError("truth and prediction must label the same alerts")
    together = sum(_pairs(n) for n in Counter(zip(truth, predicted, strict=True)).values())
    true_pairs = sum(_pairs(n) for n in Counter(truth).values())
    predicted_pairs = sum(_pairs(n) for n in Counter(predicted).values())
    precision = together / predicted_pairs if predicted_pairs else 1.0
    recall = together / true_pairs if true_pairs else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    all_pairs = _pairs(len(truth))
    expected = true_pairs * predicted_pairs / all_pairs if all_pairs else 0.0
    best = (true_pairs + predicted_pairs) / 2
    adjusted = (together - expected) / (best - expected) if best != expected else 1.0
    return PairScores(precision, recall, f1, adjusted)
