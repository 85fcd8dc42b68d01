"""Knowledge work beside the requests: keep the index current (on resolve, on every change
and on a timer), check new incidents for "Seen before?", and write LLM answers — each in its
own background pass, so neither ingestion nor a command ever waits for them."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from bot.background.passes import BackgroundPass
from bot.metrics import Metrics
from knowledge.answers import evidence_from_record
from knowledge.llm import LLMError
from knowledge.seen_before import SeenBefore
from knowledge.service import Knowledge
from knowledge.threads import background_work
from storage.database import Database
from storage.knowledge import record_written

log = logging.getLogger(__name__)

MAX_PASSES = 50
# How long a replica may take to write an answer before another takes its claim over (well
# past the LLM client's own timeouts and retries).
WRITING_LEASE = timedelta(minutes=5)


class KnowledgeWorker:
    """Index sync, then "Seen before?" for new incidents once the index has caught up."""

    def __init__(
        self,
        database: Database,
        knowledge: Knowledge,
        *,
        on_change: Callable[[], None],
        metrics: Metrics,
        interval: float = 60.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        per_project: bool = False,
    ) -> None:
        self.knowledge = knowledge
        self._seen = SeenBefore(database, knowledge, per_project=per_project)
        self._on_change = on_change
        self._clock = clock
        self.caught_up = asyncio.Event()
        self._background = BackgroundPass(
            "knowledge", self.run_once, interval=interval, debounce=1.0, metrics=metrics
        )

    def wake(self) -> None:
        self._background.wake()

    def start(self) -> None:
        self._background.start()
        self._background.wake()

    async def stop(self) -> None:
        await self._background.stop()

    async def run_once(self) -> None:
        sync = self.knowledge.sync
        report = await sync.run_once()
        passes = 1
        while not report.caught_up and passes < MAX_PASSES:
            report = await sync.run_once()
            passes += 1
        if report.indexed or report.deleted:
            log.info("knowledge index updated", extra={"summary": report.summary()})
        if not report.caught_up:
            self.wake()  # more next time; new incidents wait for a current index
            return
        self.caught_up.set()
        with background_work():  # behind ingestion and people's queries for the CPU
            checked = await self._seen.check_new(now=self._clock())
        if checked:
            self._on_change()


class AnswerWriter:
    """Asks the LLM for the answers `ask` and `explain` requested, outside any transaction."""

    def __init__(
        self,
        database: Database,
        knowledge: Knowledge,
        *,
        on_change: Callable[[], None],
        metrics: Metrics,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._database = database
        self._knowledge = knowledge
        self._on_change = on_change
        self._clock = clock
        self._background = BackgroundPass(
            "answers", self.run_once, interval=30.0, debounce=0.05, metrics=metrics
        )

    def wake(self) -> None:
        self._background.wake()

    def start(self) -> None:
        self._background.start()
        self._background.wake()

    async def stop(self) -> None:
        await self._background.stop()

    async def recover(self) -> None:
        """At start: answers a stopped process was writing are written again. Replicas on
        PostgreSQL take over only claims older than `WRITING_LEASE` (another replica may be
        writing a younger one), and look again at every pass."""
        async with self._database.unit_of_work() as uow:
            if self._database.is_sqlite:
                await uow.knowledge.requeue_answers()
            else:
                stale = self._clock() - WRITING_LEASE
                await uow.knowledge.requeue_answers(claimed_before=stale)

    async def run_once(self) -> int:
        """Write every pending answer; returns how many were finished."""
        llm = self._knowledge.llm
        if llm is None:
            return 0
        if not self._database.is_sqlite:
            await self.recover()  # claims of a replica that stopped
        done = 0
        while True:
            async with self._database.unit_of_work() as uow:
                pending = await uow.knowledge.pending_answers(limit=1)
                if not pending:
                    return done
                row = await uow.knowledge.answer(answer_id=pending[0].id, for_update=True)
                if row is None or row.status != "pending":
                    continue
                row.status = "writing"
                row.detail = {
                    **row.detail,
                    "model": llm.model,
                    "writing_since": self._clock().isoformat(),
                }
                row.revision += 1
                answer_id, skill, question = row.id, row.skill, row.question
                evidence = evidence_from_record(row.evidence)
            self._on_change()  # "writing…" shows while the model works
            detail: dict[str, object]
            try:
                written = await llm.write(
                    task="explain" if skill == "explain" else "ask",
                    question=question,
                    evidence=evidence,
                )
                status, text = "answered", written.text
                detail = {
                    "model": written.model,
                    "llm_confidence": written.confidence,
                    "cited": list(written.cited),
                    "removed_citations": list(written.removed_citations),
                    "commands": list(written.commands),
                }
            except LLMError as error:
                log.warning(
                    "the LLM gave no answer", extra={"answer": answer_id, "why": str(error)}
                )
                status, text, detail = "failed", None, {"error": str(error)}
            async with self._database.unit_of_work() as uow:
                row = await uow.knowledge.answer(answer_id=answer_id, for_update=True)
                if row is not None:
                    # The deterministic answer stays in `evidence`; `text` becomes the written one.
                    record_written(
                        row,
                        status=status,
                        text=text if text is not None else row.text,
                        detail=detail,
                        now=self._clock(),
                    )
            done += 1
            self._on_change()
