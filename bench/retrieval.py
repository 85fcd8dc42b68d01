"""Retrieval benchmark: BM25 alone, vectors alone and the two fused, on labelled queries; then
query latency with 10,000 and 100,000 indexed incidents.

1. Quality. The corpus is the demo's (bot/demo_data): 30 resolved incidents written through
   the real storage and sync path, 3 postmortems, the 9 shipped runbooks — plus `--distractors`
   generated incidents on other services, so ranking has competition. The labelled queries
   (`--queries FILE…`; by default bench/data/retrieval_queries.yaml, then two sets of
   paraphrases written from the corpus alone by people who did not see the retrieval code,
   retrieval_paraphrases_a.yaml and _b.yaml) are alerts, questions and paraphrases; a
   paraphrase must share no content word with any of its targets, and the bench checks that
   before it counts anything. Prints recall@1, recall@3 and MRR@10 for each method and set,
   overall and on the paraphrases.
2. Latency. Indexes `--sizes` generated incidents (default 10,000 and 100,000) in embedded
   Chroma and BM25, then times `KnowledgeIndex.search` (embedding the query, Chroma, BM25,
   the similarities of BM25's own candidates, fusion, fetching documents) for
   `--latency-queries` queries, and BM25 alone and vectors alone beside it. Embedding
   100,000 texts takes about an hour on 2 cores, so generated documents take the vector of
   one of `--pool` really embedded generated texts plus a little noise: the search does the
   same work, only the vectors' meaning is approximate.

Targets (reported, not asserted): fused recall@3 >= 0.9 and better than either alone; p99 <
100 ms at 100,000. Exit code 0 unless the run itself broke.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.demo_history import POSTMORTEMS, seed_past
from bot.knowledge_setup import runbook_documents
from knowledge.documents import Document, embedding_text, prose
from knowledge.embeddings import LocalEmbedder, normalize
from knowledge.index import KnowledgeIndex
from knowledge.lexical import tokenize
from knowledge.sync import KnowledgeSync
from knowledge.vectors import ChromaStore
from runbooks.catalog import RunbookCatalog
from storage.database import Database, sqlite_url

QUERIES = Path(__file__).parent / "data" / "retrieval_queries.yaml"
# Paraphrases written from the corpus alone by people who did not see the retrieval code.
INDEPENDENT = [
    Path(__file__).parent / "data" / "retrieval_paraphrases_a.yaml",
    Path(__file__).parent / "data" / "retrieval_paraphrases_b.yaml",
]
DEPTH = 10

SERVICES = [
    "billing", "ledger", "inventory", "shipping", "recommendations", "profile", "media",
    "reporting", "gateway-internal", "scheduler", "warehouse", "pricing", "tax", "fraud",
    "loyalty", "catalog", "reviews", "chat", "maps", "uploads",
]  # fmt: skip
ALERTS = [
    ("HighErrorRate", "5xx ratio {n}% on {verb} /{path}"),
    ("LatencyP99High", "p99 latency {n}00 ms on /{path}"),
    ("PodCrashLooping", "pod {svc}-{n}ab restarting: CrashLoopBackOff"),
    ("DiskWillFillIn4Hours", "disk /data on {svc}-{n} fills in 4 hours"),
    ("InstanceDown", "{svc}-{n} scrape target down"),
    ("QueueBacklog", "{n}k messages waiting in {svc}-queue"),
    ("HighMemoryUsage", "{svc} containers at {n}% of their memory limit"),
    ("JobFailed", "CronJob {svc}-sync failed {n} times"),
    ("CertificateExpiringSoon", "certificate for {svc}.internal expires in {n} days"),
    ("ReplicaLag", "{svc} read replica {n} s behind"),
]
FIXES = [
    "rolled back {svc} to the previous release",
    "restarted the {svc} deployment",
    "scaled {svc} from {n} to {m} replicas",
    "raised the memory limit of {svc} to {n} GiB",
    "cleared old files from /data on {svc}-{n}",
    "renewed the {svc} certificate",
    "replayed the failed {svc} job after fixing its credentials",
    "failed over the {svc} database to its replica",
    "throttled the batch import that overloaded {svc}",
    "reverted a config change to {svc} timeouts",
]
PATHS = ["orders", "cart", "search", "login", "items", "export", "upload", "report"]


@dataclass(frozen=True)
class Query:
    kind: str
    text: str
    targets: tuple[str, ...]


def load_queries(path: Path) -> list[Query]:
    raw = yaml.safe_load(path.read_text())
    return [Query(str(q["kind"]), str(q["query"]), tuple(map(str, q["targets"]))) for q in raw]


def generated(count: int, seed: int, start: int) -> list[Document]:
    """Incidents on services the labelled queries never name, from templates."""
    rng = random.Random(seed)
    documents = []
    for number in range(start, start + count):
        svc = f"{rng.choice(SERVICES)}-{rng.randrange(50)}"
        name, summary = rng.choice(ALERTS)
        values = {
            "n": rng.randrange(2, 99),
            "m": rng.randrange(10, 40),
            "svc": svc,
            "verb": rng.choice(["GET", "POST"]),
            "path": rng.choice(PATHS),
        }
        fix = rng.choice(FIXES).format(**values)
        title = f"{svc}: {name}"
        text = "\n".join(
            [
                title,
                f"Service: {svc}",
                f"Alerts: {name}",
                f"Symptoms: {summary.format(**values)}",
                f"Fixed by: {fix}",
            ]
        )
        documents.append(
            Document(
                id=f"incident:{number}",
                kind="incident",
                title=title,
                text=text,
                meta={"incident_id": number, "service": svc, "alerts": name, "fix": fix},
            )
        )
    return documents


def target_of(doc_id: str) -> str:
    return doc_id.split("#", 1)[0]


def first_rank(ranked: Sequence[str], targets: Sequence[str]) -> int | None:
    seen: list[str] = []
    for doc_id in ranked:
        target = target_of(doc_id)
        if target not in seen:
            seen.append(target)
        if target in targets:
            return len(seen)
    return None


def scores(ranks: Sequence[int | None]) -> tuple[float, float, float]:
    n = len(ranks) or 1
    at1 = sum(1 for r in ranks if r is not None and r <= 1) / n
    at3 = sum(1 for r in ranks if r is not None and r <= 3) / n
    mrr = sum(1 / r for r in ranks if r is not None and r <= DEPTH) / n
    return at1, at3, mrr


async def build_demo_index(
    folder: Path, embedder: LocalEmbedder, distractors: int
) -> KnowledgeIndex:
    await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
    database = Database(sqlite_url(folder))
    await database.upgrade()
    async with database.unit_of_work() as uow:
        await seed_past(uow, datetime.now(UTC))
    store = ChromaStore.embedded(folder / "chroma", embedder_name=embedder.name)
    index = KnowledgeIndex(embedder=embedder, store=store)
    catalog = RunbookCatalog.shipped()
    sync = KnowledgeSync(
        database=database,
        index=index,
        postmortems=POSTMORTEMS,
        runbooks=lambda: runbook_documents(catalog),
    )
    await sync.catch_up()
    if distractors:
        await index.apply(generated(distractors, seed=7, start=1001))
    await database.dispose()
    return index


def paraphrase_problems(
    queries: Sequence[Query], documents: dict[str, list[Document]]
) -> list[str]:
    """Paraphrases sharing a content word (a token of 3+ characters) with a target."""
    problems = []
    for query in queries:
        if query.kind != "paraphrase":
            continue
        words = {t for t in tokenize(query.text) if len(t) > 2}
        for target in query.targets:
            theirs = {
                t for d in documents.get(target, []) for t in tokenize(f"{d.title}\n{d.text}")
            }
            shared = sorted(words & theirs)
            if shared:
                problems.append(f"{query.text!r} shares {shared} with {target}")
    return problems


async def quality(index: KnowledgeIndex, queries: list[Query]) -> None:
    documents: dict[str, list[Document]] = {}
    for document in await index.store.documents():
        documents.setdefault(target_of(document.id), []).append(document)
    missing = sorted({t for q in queries for t in q.targets if t not in documents})
    if missing:
        print(f"labelled targets missing from the corpus: {missing}")
    problems = paraphrase_problems(queries, documents)
    print(
        f"\n{len(queries)} labelled queries "
        f"({sum(q.kind == 'paraphrase' for q in queries)} paraphrases), "
        f"{len(index)} documents indexed"
    )
    for problem in problems:
        print(f"  paraphrase check FAILED: {problem}")
    if not problems:
        print("  paraphrase check: no paraphrase shares a content word with its targets")
    ranks: dict[str, list[int | None]] = {"BM25": [], "vectors": [], "fused": []}
    kinds: list[str] = []
    for query in queries:
        lexical = [h.doc_id for h in index.lexical.search(query.text, limit=DEPTH * 3)]
        vector = await index.embedder.embed([prose(query.text)])
        dense = [h.document.id for h in await index.store.query(vector[0], limit=DEPTH * 3)]
        fused = [h.document.id for h in (await index.search(query.text, limit=DEPTH * 3)).hits]
        for name, ranked in (("BM25", lexical), ("vectors", dense), ("fused", fused)):
            ranks[name].append(first_rank(ranked, query.targets))
        kinds.append(query.kind)
    print(f"\n{'method':<10}{'recall@1':>10}{'recall@3':>10}{'MRR@10':>9}   paraphrases only")
    for name, found in ranks.items():
        at1, at3, mrr = scores(found)
        p1, p3, pm = scores([r for r, k in zip(found, kinds, strict=True) if k == "paraphrase"])
        print(f"{name:<10}{at1:>10.3f}{at3:>10.3f}{mrr:>9.3f}   {p1:.3f} / {p3:.3f} / {pm:.3f}")
    misses = [q.text for q, r in zip(queries, ranks["fused"], strict=True) if r is None or r > 3]
    if misses:
        print(f"fused misses at 3 ({len(misses)}): " + "; ".join(misses[:10]))


def resident_kilobytes() -> int:
    with open(f"/proc/{os.getpid()}/status") as status:
        return int(status.read().split("VmRSS:")[1].split()[0])


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


async def timed(call: Callable[[], Awaitable[object]], count: int) -> list[float]:
    spent = []
    for _ in range(count):
        started = time.perf_counter()
        await call()
        spent.append((time.perf_counter() - started) * 1000)
    return spent


async def latency(
    folder: Path, embedder: LocalEmbedder, size: int, queries: list[Query], count: int, pool: int
) -> None:
    documents = generated(size, seed=size, start=1)
    started = time.perf_counter()
    pool_vectors = embedder.embed_now([embedding_text(d) for d in documents[:pool]])
    rng = np.random.default_rng(size)
    store = ChromaStore.embedded(folder / f"chroma-{size}", embedder_name=embedder.name)
    index = KnowledgeIndex(embedder=embedder, store=store)
    await index.load()
    for start in range(0, size, 5000):
        chunk = documents[start : start + 5000]
        base = pool_vectors[rng.integers(0, len(pool_vectors), len(chunk))]
        noise = rng.normal(0, 0.02, base.shape).astype(np.float32)
        await asyncio.to_thread(store.upsert_now, chunk, normalize(base + noise))
        for document in chunk:
            index._remember(document)
    await asyncio.to_thread(index.lexical.rebuild)
    build = time.perf_counter() - started
    texts = [q.text for q in queries]
    picks = [texts[i % len(texts)] for i in range(count)]
    it = iter(picks * 3)
    await index.search(picks[0])  # warm

    async def fused() -> object:
        return await index.search(next(it), limit=10)

    async def lexical() -> object:
        return index.lexical.search(next(it), limit=10)

    async def vectors() -> object:
        vector = await embedder.embed([next(it)])
        return await store.query(vector[0], limit=10)

    results = {
        "fused": await timed(fused, count),
        "BM25 alone": await timed(lexical, count),
        "vectors alone": await timed(vectors, count),
    }
    rss = resident_kilobytes()
    print(f"\n{size:,} incidents indexed in {build:.0f} s; process RSS {rss // 1024} MB")
    for name, spent in results.items():
        print(
            f"  {name:<14} p50 {percentile(spent, 0.5):6.1f} ms   "
            f"p99 {percentile(spent, 0.99):6.1f} ms   ({count} queries)"
        )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--queries",
        type=Path,
        nargs="+",
        default=[QUERIES, *INDEPENDENT],
        help="labelled query files; the first one's queries also drive the latency runs",
    )
    parser.add_argument("--distractors", type=int, default=1000)
    parser.add_argument("--sizes", type=int, nargs="*", default=[10_000, 100_000])
    parser.add_argument("--latency-queries", type=int, default=300)
    parser.add_argument("--pool", type=int, default=2000)
    args = parser.parse_args()
    embedder = LocalEmbedder.shared()
    embedder.load()
    sets = [(path, load_queries(path)) for path in args.queries]
    queries = sets[0][1]
    print(f"model {embedder.name}, {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory(prefix="lookout-retrieval-") as tmp:
        folder = Path(tmp)
        index = await build_demo_index(folder / "demo", embedder, args.distractors)
        for path, labelled in sets:
            print(f"\n== {path.name}")
            await quality(index, labelled)
        for size in args.sizes:
            await latency(folder, embedder, size, queries, args.latency_queries, args.pool)
    print("\ntargets: fused recall@3 >= 0.9 and better than either alone; p99 < 100 ms at 100,000")


if __name__ == "__main__":
    asyncio.run(main())
