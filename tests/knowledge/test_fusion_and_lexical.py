"""Reciprocal-rank fusion and the BM25 side."""

from __future__ import annotations

import pytest

from knowledge.fusion import RRF_K, reciprocal_rank_fusion
from knowledge.lexical import LexicalIndex, tokenize


def test_fusion_sums_reciprocal_ranks() -> None:
    fused = reciprocal_rank_fusion({"lexical": ["a", "b", "c"], "vector": ["b", "d"]})
    scores = {doc: score for doc, score, _ in fused}
    assert scores["b"] == pytest.approx(1 / (RRF_K + 2) + 1 / (RRF_K + 1))
    assert scores["a"] == pytest.approx(1 / (RRF_K + 1))
    assert [doc for doc, _, _ in fused][:2] == ["b", "a"]  # found by both beats first of one
    assert dict((doc, ranks) for doc, _, ranks in fused)["b"] == {"lexical": 2, "vector": 1}


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
