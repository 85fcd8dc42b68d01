"""Dense retrieval in Chroma: embedded (`PersistentClient` under the data dir) by default, a
Chroma server (`HttpClient`, `chroma run`) when LOOKOUT_CHROMA_URL is set.

One collection per embedder (its name is in the collection's name), cosine space, our own
vectors (no Chroma embedding function, so Chroma never downloads a model). Anonymized
telemetry is off. Chroma's client is synchronous: every call here runs in a worker thread.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np

from knowledge.documents import Document, DocumentKind, MetaValue
from knowledge.embeddings import Vectors
from knowledge.threads import INDEXING, in_thread, query_executor

COLLECTION_PREFIX = "lookout-knowledge"
PAGE = 1000
# How long one request to a Chroma server may take (seconds) unless the store is given its own.
SERVER_TIMEOUT = 5.0


class VectorStoreError(RuntimeError):
    """Chroma failed or cannot be reached; the message says which and why, `missing` says
    it in one sentence for a person ("Chroma did not answer within 5 s")."""

    def __init__(self, message: str, *, missing: str = "Chroma could not answer") -> None:
        super().__init__(message)
        self.missing = missing


def _missing(error: BaseException, timeout: float | None) -> str:
    """One sentence on why Chroma gave nothing: it timed out, refused, or failed."""
    import httpx

    current: BaseException | None = error
    while current is not None:
        if isinstance(current, httpx.TimeoutException | TimeoutError) and timeout is not None:
            return f"Chroma did not answer within {timeout:g} s"
        if isinstance(current, httpx.TransportError | ConnectionError):
            return "Chroma is not reachable"
        current = current.__cause__ or current.__context__
    return "Chroma could not answer"


@dataclass(frozen=True)
class VectorHit:
    document: Document
    similarity: float  # cosine similarity, 1 = same direction


def collection_name(embedder_name: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", embedder_name).strip("-._")
    return f"{COLLECTION_PREFIX}-{cleaned}"[:120]


def _settings() -> Any:
    from chromadb.config import Settings

    return Settings(anonymized_telemetry=False, allow_reset=False)


class ChromaStore:
    """Documents and their vectors in one Chroma collection."""

    def __init__(
        self, client: Any, *, embedder_name: str, where: str, timeout: float | None = None
    ) -> None:
        self._client = client
        self.timeout = timeout  # a server's request timeout (seconds); None: embedded
        self._name = collection_name(embedder_name)
        self._embedder = embedder_name
        self.where = where  # for messages: the path or the server's URL
        self._collection: Any = None

    @classmethod
    def embedded(cls, path: Path, *, embedder_name: str) -> ChromaStore:
        import chromadb

        path.mkdir(parents=True, exist_ok=True)
        client = chromadb.PersistentClient(path=str(path), settings=_settings())
        return cls(client, embedder_name=embedder_name, where=str(path))

    @classmethod
    def server(
        cls, url: str, *, embedder_name: str, timeout: float = SERVER_TIMEOUT
    ) -> ChromaStore:
        """A Chroma server at `url` (http://host:port); connects on first use. Every request
        to it, the first connection included, gives up after `timeout` seconds."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"LOOKOUT_CHROMA_URL must be http(s)://host:port, not {url!r}")
        return cls(
            _LazyHttpClient(url, timeout), embedder_name=embedder_name, where=url, timeout=timeout
        )

    def _open(self) -> Any:
        if self._collection is None:
            try:
                self._collection = self._client.get_or_create_collection(
                    self._name,
                    metadata={"hnsw:space": "cosine", "embedder": self._embedder},
                    embedding_function=None,
                )
            except Exception as error:
                raise VectorStoreError(
                    f"Chroma at {self.where}: {error}", missing=_missing(error, self.timeout)
                ) from error
        return self._collection

    def _call(self, action: str, *args: Any, **kwargs: Any) -> Any:
        collection = self._open()
        try:
            return getattr(collection, action)(*args, **kwargs)
        except Exception as error:
            self._collection = None  # reconnect next time (a restarted server)
            raise VectorStoreError(
                f"Chroma at {self.where}: {error}", missing=_missing(error, self.timeout)
            ) from error

    # --- synchronous, for worker threads ---
    def upsert_now(self, documents: Sequence[Document], vectors: Vectors) -> None:
        for start in range(0, len(documents), PAGE):
            chunk = documents[start : start + PAGE]
            self._call(
                "upsert",
                ids=[d.id for d in chunk],
                embeddings=np.asarray(vectors[start : start + PAGE], dtype=np.float32),
                documents=[d.text for d in chunk],
                metadatas=[_metadata(d) for d in chunk],
            )

    def delete_now(self, ids: Sequence[str]) -> None:
        if ids:
            self._call("delete", ids=list(ids))

    def digests_now(self) -> dict[str, str]:
        """Every stored document's digest, by id."""
        found: dict[str, str] = {}
        offset = 0
        while True:
            page = self._call("get", include=["metadatas"], limit=PAGE, offset=offset)
            for doc_id, meta in zip(page["ids"], page["metadatas"] or [], strict=False):
                found[doc_id] = str((meta or {}).get("_digest", ""))
            if len(page["ids"]) < PAGE:
                return found
            offset += PAGE

    def documents_now(self, ids: Sequence[str] | None = None) -> list[Document]:
        """Stored documents (all, paged, when `ids` is None)."""
        if ids is not None:
            if not ids:
                return []
            page = self._call("get", ids=list(ids), include=["documents", "metadatas"])
            return _documents(page)
        found: list[Document] = []
        offset = 0
        while True:
            page = self._call("get", include=["documents", "metadatas"], limit=PAGE, offset=offset)
            found.extend(_documents(page))
            if len(page["ids"]) < PAGE:
                return found
            offset += PAGE

    def query_now(
        self,
        vector: Vectors,
        *,
        limit: int,
        kinds: Collection[str] | None = None,
        projects: Collection[str] | None = None,
    ) -> list[VectorHit]:
        """The `limit` nearest documents; `kinds` and `projects` (their `project` metadata)
        filter in Chroma, before the nearest are taken. Chroma answers a collection smaller
        than `limit` (or empty) with what it holds, so no count is asked first."""
        clauses: list[dict[str, Any]] = []
        if kinds is not None:
            clauses.append({"kind": {"$in": list(kinds)}})
        if projects is not None:
            clauses.append({"project": {"$in": list(projects)}})
        where: dict[str, Any] | None = None
        if len(clauses) == 1:
            where = clauses[0]
        elif clauses:
            where = {"$and": clauses}
        result = self._call(
            "query",
            query_embeddings=np.asarray(vector, dtype=np.float32).reshape(1, -1),
            n_results=limit,
            where=where,
            include=["documents", "metadatas", "distances"],
        )
        documents = _documents(
            {
                "ids": result["ids"][0],
                "documents": result["documents"][0],
                "metadatas": result["metadatas"][0],
            }
        )
        return [
            VectorHit(document, 1.0 - float(distance))
            for document, distance in zip(documents, result["distances"][0], strict=True)
        ]

    def similarities_now(self, vector: Vectors, ids: Sequence[str]) -> dict[str, float]:
        """The cosine similarity of `vector` to each stored document of `ids` (those not
        stored are left out): the stored vectors are unit length, so it is their dot
        product."""
        if not ids:
            return {}
        page = self._call("get", ids=list(ids), include=["embeddings"])
        stored = page.get("embeddings")
        if stored is None or len(page["ids"]) == 0:
            return {}
        products = np.asarray(stored, dtype=np.float32) @ np.asarray(vector, dtype=np.float32)
        return {doc_id: float(p) for doc_id, p in zip(page["ids"], products, strict=True)}

    def count_now(self) -> int:
        return int(self._call("count"))

    def drop_now(self) -> None:
        """Delete the collection (a full reindex starts from nothing)."""
        try:
            self._client.delete_collection(self._name)
        except Exception as error:
            if "does not exist" not in str(error).lower():
                raise VectorStoreError(f"Chroma at {self.where}: {error}") from error
        self._collection = None

    # --- async wrappers ---
    async def upsert(self, documents: Sequence[Document], vectors: Vectors) -> None:
        await in_thread(INDEXING, self.upsert_now, documents, vectors)

    async def delete(self, ids: Sequence[str]) -> None:
        await in_thread(INDEXING, self.delete_now, ids)

    async def query(
        self,
        vector: Vectors,
        *,
        limit: int,
        kinds: Collection[str] | None = None,
        projects: Collection[str] | None = None,
    ) -> list[VectorHit]:
        return await in_thread(
            query_executor(), self.query_now, vector, limit=limit, kinds=kinds, projects=projects
        )

    async def similarities(self, vector: Vectors, ids: Sequence[str]) -> dict[str, float]:
        return await in_thread(query_executor(), self.similarities_now, vector, ids)

    async def documents(self, ids: Sequence[str] | None = None) -> list[Document]:
        # All of them is the start-up load: indexing work.
        executor = query_executor() if ids is not None else INDEXING
        return await in_thread(executor, self.documents_now, ids)

    async def drop(self) -> None:
        await in_thread(INDEXING, self.drop_now)


class _LazyHttpClient:
    """`chromadb.HttpClient` made on first use: its constructor calls the server, and Lookout
    must start (and answer from BM25) while the server is away.

    Chroma's own HTTP session has no timeout (`httpx.Client(timeout=None)`), so a server that
    takes a connection and never answers would hold the query thread for good. So the server
    is asked for its heartbeat first, with `timeout`, and the client's session then gets the
    same timeout for every later request.
    """

    def __init__(self, url: str, timeout: float) -> None:
        self._url = url
        self._timeout = timeout
        self._client: Any = None

    def __getattr__(self, name: str) -> Any:
        if self._client is None:
            import chromadb
            import httpx

            parts = urlsplit(self._url)
            port = parts.port or (443 if parts.scheme == "https" else 8000)
            base = f"{parts.scheme}://{parts.hostname}:{port}"
            httpx.get(f"{base}/api/v2/heartbeat", timeout=self._timeout).raise_for_status()
            client: Any = chromadb.HttpClient(
                host=parts.hostname or "127.0.0.1",
                port=port,
                ssl=parts.scheme == "https",
                settings=_settings(),
            )
            client._server._session.timeout = httpx.Timeout(self._timeout)
            self._client = client
        return getattr(self._client, name)


def _metadata(document: Document) -> dict[str, MetaValue]:
    return {
        **document.meta,
        "kind": document.kind,
        "_title": document.title,
        "_digest": document.digest,
    }


def _documents(page: dict[str, Any]) -> list[Document]:
    found = []
    texts = page.get("documents") or [None] * len(page["ids"])
    metas = page.get("metadatas") or [None] * len(page["ids"])
    for doc_id, text, meta in zip(page["ids"], texts, metas, strict=True):
        values = dict(meta or {})
        kind: DocumentKind = values.pop("kind", "incident")
        title = str(values.pop("_title", doc_id))
        values.pop("_digest", None)
        found.append(Document(id=doc_id, kind=kind, title=title, text=text or "", meta=values))
    return found
