"""Reciprocal-rank fusion and the BM25 side."""

from __future__ import annotations

import pytest

from knowledge.fusion import RRF_K, convex_combination, reciprocal_rank_fusion
from knowledge.lexical import LexicalIndex, tokenize


def test_fusion_sums_reciprocal_ranks() -> None:
    fused = reciprocal_rank_fusion({"lexical": ["a", "b", "c"], "vector": ["b", "d"]})
    scores = {doc: score for doc, score, _ in fused}
    assert scores["b"] == pytest.approx(1 / (RRF_K + 2) + 1 / (RRF_K + 1))
    assert scores["a"] == pytest.approx(1 / (RRF_K + 1))
    assert [doc for doc, _, _ in fused][:2] == ["b", "a"]  # found by both beats first of one
    assert dict((doc, ranks) for doc, _, ranks in fused)["b"] == {"lexical": 2, "vector": 1}


def test_a_document_one_side_ranks_first_by_far_keeps_its_lead() -> None:
    """An exact error string ("OOM command not allowed when used memory > maxmemory") that
    BM25 finds in one incident, while the sentence model ranks it low: rank fusion let
    documents both sides placed in the middle overtake it; the score combination does not."""
    lexical = {"exact": 12.0, "a": 3.0, "b": 2.9, "c": 2.8}
    vector = {"d": 0.45, "a": 0.42, "b": 0.41, "c": 0.40, "exact": 0.38, "e": 0.30}
    by_rank = reciprocal_rank_fusion(
        {"lexical": list(lexical), "vector": sorted(vector, key=lambda d: -vector[d])}
    )
    assert by_rank[0][0] != "exact"  # what went wrong with ranks alone
    fused = convex_combination(lexical, vector)
    assert fused[0][0] == "exact"
    assert fused[0][2] == {"lexical": 1, "vector": 5}
    assert all(0.0 <= score <= 1.0 for _, score, _ in fused)
    # Equal weight: the best of each side alone scores 0.5, of both 1.0.
    scores = {doc: score for doc, score, _ in convex_combination({"x": 5.0}, {"y": 0.9, "z": 0.1})}
    assert scores == {"x": 0.5, "y": 0.5, "z": 0.0}
    both = convex_combination({"x": 5.0, "y": 1.0}, {"x": 0.9, "y": 0.1})
    assert both[0] == ("x", 1.0, {"lexical": 1, "vector": 1})


def test_one_side_alone_keeps_its_order() -> None:
    """Chroma down: the BM25 order; nothing on words: the vector order."""
    assert [d for d, _, _ in convex_combination({"a": 1.0, "b": 4.0}, {})] == ["b", "a"]
    assert [d for d, _, _ in convex_combination({}, {"a": 0.2, "b": 0.7})] == ["b", "a"]
    assert convex_combination({}, {}) == []
    # Every candidate ties on a side that cannot tell them apart.
    assert [d for d, _, _ in convex_combination({"a": 1.0, "b": 1.0}, {"a": 0.5, "b": 0.5})] == [
        "a",
        "b",
    ]


def test_fusion_keeps_first_appearance_on_ties_and_counts_a_document_once() -> None:
    fused = reciprocal_rank_fusion({"x": ["a", "a", "b"], "y": ["b", "a"]})
    assert [doc for doc, _, _ in fused] == ["a", "b"]
    assert fused[0][2] == {"x": 1, "y": 2}


def test_identifiers_are_kept_whole_and_split() -> None:
    tokens = tokenize("PostgresConnectionsExhausted on docker_nodes: pg-0:9187 is down")
    assert tokens[:4] == ["postgresconnectionsexhausted", "postgres", "connections", "exhausted"]
    assert {"docker_nodes", "docker", "nodes", "down"} <= set(tokens)
    assert "on" not in tokens and "is" not in tokens


def test_bm25_ranks_the_exact_alert_name_first_and_filters_kinds() -> None:
    index = LexicalIndex()
    index.put("incident:1", "incident", "checkout HighErrorRate after deploy")
    index.put("incident:2", "incident", "high memory on docker nodes")
    index.put("runbook:x", "runbook", "HighErrorRate runbook: roll back")
    index.rebuild()
    assert index.search("HighErrorRate", limit=5)[0].doc_id in {"incident:1", "runbook:x"}
    # The whole identifier outranks a shared part of it ("high").
    assert [h.doc_id for h in index.search("HighErrorRate", limit=5, kinds=["incident"])] == [
        "incident:1",
        "incident:2",
    ]
    assert index.search("nothing matches this", limit=5) == []
    # Coverage: the whole alert name covers the query; sharing "high" covers little of it.
    coverage = {h.doc_id: h.coverage for h in index.search("HighErrorRate", limit=5)}
    assert coverage["incident:1"] == 1.0 and coverage["incident:2"] < 0.3
    index.remove(["incident:1"])
    index.rebuild()
    assert [h.doc_id for h in index.search("HighErrorRate", limit=5)] == ["runbook:x", "incident:2"]
