"""Retrieval by project: both sides of the hybrid index filter before ranking, so the top
is filled with documents the asker may see; documents indexed before projects existed
count as the default project's (runbooks as everyone's) and never break a search."""

from __future__ import annotations

from knowledge.documents import Document
from knowledge.index import KnowledgeIndex


def incident(number: int, project: str | None, text: str) -> Document:
    meta: dict[str, str | int] = {"incident_id": number}
    if project is not None:
        meta["project"] = project
    return Document(
        id=f"incident:{number}",
        kind="incident",
        title=f"orders-db: PostgresConnectionsExhausted #{number}",
        text=text,
        meta=meta,
    )


CLOSE = "Connection slots exhausted on the orders database primary; pgbouncer restarted"
FAR = "Connection slots exhausted on the orders database replica once; a pool was widened"


async def test_the_top_is_filled_with_visible_documents(index: KnowledgeIndex) -> None:
    # Ten of platform's match best; payments' two match less well.
    platform = [incident(n, "platform", CLOSE) for n in range(1, 11)]
    payments = [incident(n, "payments", FAR) for n in (11, 12)]
    await index.load()
    await index.apply([*platform, *payments])
    query = "orders database connection slots exhausted on the primary"
    everything = await index.search(query, limit=2)
    assert {hit.document.meta["project"] for hit in everything.hits} == {"platform"}
    theirs = await index.search(query, limit=2, projects={"payments"})
    assert sorted(hit.document.id for hit in theirs.hits) == ["incident:11", "incident:12"]
    assert all(hit.similarity is not None for hit in theirs.hits)  # Chroma filtered too
    lexical = index.lexical.search(query, limit=2, owners={"payments", "*"})  # and BM25
    assert sorted(hit.doc_id for hit in lexical) == ["incident:11", "incident:12"]
    nobody = await index.search(query, limit=2, projects=set())
    assert nobody.hits == []


async def test_documents_without_a_project_are_the_default_projects(
    index: KnowledgeIndex,
) -> None:
    legacy = incident(1, None, CLOSE)
    runbook = Document(
        id="runbook:restart-pgbouncer",
        kind="runbook",
        title="Restart pgbouncer",
        text="Restart pgbouncer when the orders database connection slots are exhausted",
        meta={"name": "restart-pgbouncer"},
    )
    await index.load()
    await index.apply([legacy, runbook])
    query = "orders database connection slots exhausted"
    # Chroma cannot match a field a document lacks: until the next sync writes their
    # projects, such documents are found by words (BM25 knows whose they are).
    default = await index.search(query, limit=5, projects={"default"})
    assert {hit.document.id for hit in default.hits} == {"incident:1", "runbook:restart-pgbouncer"}
    others = await index.search(query, limit=5, projects={"payments"})
    assert [hit.document.id for hit in others.hits] == ["runbook:restart-pgbouncer"]
    assert not others.notes
