"""Keeping the index current: resolved incidents (followed through the timeline's event ids),
the postmortem folder and the runbook catalog, each pass indexing only what changed.

A pass reads the database in short units of work and embeds outside them, so it never holds
up ingestion or a command. It is idempotent: run it twice and the second embeds nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from core.projects import DEFAULT_PROJECT
from knowledge.documents import PROJECT_META, Document
from knowledge.index import KnowledgeIndex
from knowledge.postmortems import read_folder, split_postmortem
from knowledge.sources import incident_documents
from knowledge.threads import INDEXING, in_thread
from storage.database import Database

log = logging.getLogger(__name__)

EVENTS_PER_PASS = 5000
INCIDENTS_PER_READ = 200


@dataclass(frozen=True)
class SyncReport:
    indexed: int  # documents added or changed
    embedded: int  # of which the model embedded (the rest were already in Chroma)
    deleted: int
    caught_up: bool  # False: more changes wait for the next pass

    def summary(self) -> str:
        return (
            f"{self.indexed} documents indexed ({self.embedded} embedded), {self.deleted} removed"
            + ("" if self.caught_up else "; more to do")
        )


class KnowledgeSync:
    def __init__(
        self,
        *,
        database: Database,
        index: KnowledgeIndex,
        postmortems: Path | None = None,
        runbooks: Callable[[], list[Document]] = list,
        events_per_pass: int = EVENTS_PER_PASS,
        default_project: str = DEFAULT_PROJECT,
    ) -> None:
        self.database = database
        self.index = index
        self.postmortems = postmortems
        self.runbooks = runbooks
        self.events_per_pass = events_per_pass
        self.default_project = default_project
        self._postmortem_digests: dict[str, str] = {}

    async def run_once(self) -> SyncReport:
        """One pass; raises VectorStoreError or EmbeddingError (the next pass retries)."""
        index = self.index
        if not index.loaded:
            await index.load()
        async with self.database.unit_of_work() as uow:
            changed, last_event = await uow.knowledge.changed_incidents(
                after_event=index.watermark, limit=self.events_per_pass
            )
            latest = await uow.knowledge.latest_event_id()
        upserts: list[Document] = []
        deletions: list[str] = []
        for start in range(0, len(changed), INCIDENTS_PER_READ):
            async with self.database.unit_of_work() as uow:
                documents, gone = await incident_documents(
                    uow, changed[start : start + INCIDENTS_PER_READ]
                )
            upserts.extend(documents)
            deletions.extend(doc_id for doc_id in gone if index.digest(doc_id) is not None)
        postmortems, stale_postmortems, digests = await in_thread(
            INDEXING, self._postmortem_documents
        )
        upserts.extend(await self._with_projects(postmortems))
        deletions.extend(stale_postmortems)
        runbooks = self.runbooks()
        upserts.extend(runbooks)
        names = {d.id for d in runbooks}
        deletions.extend(doc_id for doc_id in index.ids("runbook:") if doc_id not in names)
        fresh = [d for d in upserts if index.digest(d.id) != d.digest]
        embedded = await index.apply(fresh, deletions)
        index.watermark = last_event
        self._postmortem_digests = digests
        return SyncReport(
            indexed=len(fresh),
            embedded=embedded,
            deleted=len(set(deletions)),
            caught_up=last_event >= latest,
        )

    async def catch_up(self, *, max_passes: int = 1000) -> SyncReport:
        """Passes until nothing is left (a reindex, the demo, tests)."""
        report = await self.run_once()
        passes = 1
        while not report.caught_up and passes < max_passes:
            report = await self.run_once()
            passes += 1
        return report

    async def reindex(self) -> SyncReport:
        """Drop everything and index it all again (`lookout knowledge reindex`)."""
        await self.index.reset()
        self._postmortem_digests.clear()
        await self.index.load()
        return await self.catch_up()

    async def _with_projects(self, postmortems: list[Document]) -> list[Document]:
        """Postmortem pieces with the project of the first incident their file names (the
        default project when it names none that exists): who may see an incident may read
        its postmortem."""
        if not postmortems:
            return postmortems
        firsts: dict[str, int] = {}
        for document in postmortems:
            for ref in document.list_meta("incidents")[:1]:
                number = ref.removeprefix("INC-")
                if number.isdigit():
                    firsts[document.id] = int(number)
        projects: dict[int, str] = {}
        if firsts:
            async with self.database.unit_of_work() as uow:
                rows = await uow.incidents.get_many(incident_ids=sorted(set(firsts.values())))
            projects = {incident_id: row.project for incident_id, row in rows.items()}
        return [
            replace(
                document,
                meta={
                    **document.meta,
                    PROJECT_META: projects.get(firsts.get(document.id, 0), self.default_project),
                },
            )
            for document in postmortems
        ]

    def _postmortem_documents(self) -> tuple[list[Document], list[str], dict[str, str]]:
        """Documents of changed postmortem files, ids of pieces that no longer exist, and the
        files' digests to remember once they are indexed."""
        if self.postmortems is None:
            return [], self.index.ids("postmortem:"), {}
        files = read_folder(self.postmortems)
        documents: list[Document] = []
        current: set[str] = set()
        digests: dict[str, str] = {}
        for file in files:
            digests[str(file.path)] = file.digest
            if self._postmortem_digests.get(str(file.path)) == file.digest:
                current.update(self.index.ids(f"postmortem:{file.slug}#"))
                continue
            pieces = split_postmortem(file)
            documents.extend(pieces)
            current.update(d.id for d in pieces)
        stale = [doc_id for doc_id in self.index.ids("postmortem:") if doc_id not in current]
        return documents, stale, digests
