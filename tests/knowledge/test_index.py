"""The hybrid index on a temp dir and against a real `chroma run` server: idempotent writes,
fused search, what survives a restart, and BM25 answering when Chroma cannot."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

from knowledge.documents import Document, embedding_text
from knowledge.embeddings import LocalEmbedder
from knowledge.index import KnowledgeIndex
from knowledge.vectors import ChromaStore

DOCS = [
    Document(
        id="incident:1",
        kind="incident",
        title="postgres-primary: PostgresConnectionsExhausted",
        text="Connection slots exhausted on the primary database; failed over to the replica",
        meta={"incident_id": 1, "service": "postgres-primary"},
    ),
    Document(
        id="incident:2",
        kind="incident",
        title="api-gateway: TLSCertificateExpiringSoon",
        text="Certificate for api.example.com expires in 3 days; renewed with cert-manager",
        meta={"incident_id": 2},
    ),
    Document(
        id="incident:3",
        kind="incident",
        title="docker_nodes: DiskWillFillIn4Hours",
        text="Container logs filled the root disk of node-7; rotated and compressed them",
        meta={"incident_id": 3},
    ),
    Document(
        id="runbook:flush-redis-cache",
        kind="runbook",
        title="Flush keys from a Redis cache",
        text="Delete keys matching a pattern when the cache is full of stale entries",
        meta={"name": "flush-redis-cache"},
    ),
]


async def _exercise(index: KnowledgeIndex) -> None:
    await index.load()
    assert await index.apply(DOCS) == 4
    assert await index.apply(DOCS) == 0  # idempotent: nothing changed, nothing embedded
    # Fusion scores every candidate on both sides: a document only BM25 returned gets its
    # similarity from its stored vector (unit length, so a dot product).
    question = (await index.embedder.embed(["certificate renewal"]))[0]
    stored = await index.store.similarities(question, ["incident:2", "incident:404"])
    expected = float((await index.embedder.embed([embedding_text(DOCS[1])]))[0] @ question)
    assert list(stored) == ["incident:2"] and abs(stored["incident:2"] - expected) < 1e-3
    # A paraphrase sharing no content word with its target is found by meaning, and by
    # words through the thesaurus (pg: postgres; sessions: connections).
    result = await index.search("pg will not take any more client sessions", limit=3)
    assert result.hits[0].document.id == "incident:1"
    assert result.hits[0].similarity is not None and result.hits[0].lexical is not None
    # Words the thesaurus does not know are found by meaning only.
    result = await index.search("the site's trust chain runs out this week", limit=3)
    assert result.hits[0].document.id == "incident:2"
    assert result.hits[0].similarity is not None and result.hits[0].lexical is None
    # An exact alert name is found by words and by meaning: both ranks are there.
    hit = (await index.search("TLSCertificateExpiringSoon", limit=1)).hits[0]
    assert hit.document.id == "incident:2" and hit.lexical and hit.similarity
    assert set(hit.ranks) == {"lexical", "vector"}
    # Kinds filter, exclusion, changes and deletions.
    only = await index.search("cache full", limit=5, kinds=["runbook"])
    assert [h.document.id for h in only.hits] == ["runbook:flush-redis-cache"]
    assert all(
        h.document.id != "incident:1"
        for h in (await index.search("database", exclude={"incident:1"})).hits
    )
    changed = Document(**{**DOCS[2].__dict__, "text": DOCS[2].text + " and set max-size"})
    assert await index.apply([changed], deletions=["incident:2"]) == 1
    ids = [h.document.id for h in (await index.search("certificate renewal", limit=5)).hits]
    assert "incident:2" not in ids


async def test_index_and_search_on_a_temp_dir(index: KnowledgeIndex, tmp_path: Path) -> None:
    await _exercise(index)
    # A new process on the same folder finds everything without embedding again.
    again = KnowledgeIndex(
        embedder=index.embedder,
        store=ChromaStore.embedded(tmp_path / "chroma", embedder_name=index.embedder.name),
    )
    await again.load()
    assert len(again) == 3
    assert await again.apply(DOCS[:1]) == 0
    hits = (await again.search("logs filled the disk", limit=1)).hits
    assert hits[0].document.id == "incident:3" and "max-size" in hits[0].document.text


async def test_index_and_search_against_a_chroma_server(
    chroma_server: str, embedder: LocalEmbedder
) -> None:
    store = ChromaStore.server(chroma_server, embedder_name=f"{embedder.name}-server-test")
    store.drop_now()
    await _exercise(KnowledgeIndex(embedder=embedder, store=store))


async def test_bm25_answers_when_chroma_is_unreachable(embedder: LocalEmbedder) -> None:
    from tests.conftest import free_port

    store = ChromaStore.server(f"http://127.0.0.1:{free_port()}", embedder_name=embedder.name)
    index = KnowledgeIndex(embedder=embedder, store=store)
    for document in DOCS:
        index._remember(document)  # what a replica had loaded before the server went away
    index.lexical.rebuild()
    result = await index.search("PostgresConnectionsExhausted", limit=3)
    assert result.hits[0].document.id == "incident:1"
    assert result.hits[0].document.title == DOCS[0].title
    assert result.notes == [
        "Chroma is not reachable; matched on words only, so vector search is missing from "
        "this answer."
    ]


async def test_bm25_answers_within_the_timeout_when_chroma_never_answers(
    embedder: LocalEmbedder,
) -> None:
    with socket.socket() as listener:  # takes connections, never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        store = ChromaStore.server(url, embedder_name=embedder.name, timeout=1)
        index = KnowledgeIndex(embedder=embedder, store=store)
        for document in DOCS:
            index._remember(document)
        index.lexical.rebuild()
        # Twice: the first search must not leave the query thread waiting on the server.
        for _ in range(2):
            async with asyncio.timeout(60):  # a hang fails here instead of holding the run
                result = await index.search("PostgresConnectionsExhausted", limit=3)
            assert result.hits[0].document.id == "incident:1"
            assert result.notes == [
                "Chroma did not answer within 1 s; matched on words only, so vector search "
                "is missing from this answer."
            ]
