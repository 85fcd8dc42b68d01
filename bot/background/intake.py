"""Alert intake: deliveries that arrive while ingestion is busy are stored together.

Ingestion runs one transaction at a time (SQLite has one writer; on PostgreSQL an advisory
lock serializes replicas), and most of a transaction's cost is per transaction, not per
alert: reading the incidents to weigh alerts against, re-deriving the touched ones, the
commit. So while one batch is being stored, the webhooks that arrive meanwhile queue, and the
next transaction takes all of them at once — group commit, as databases do with their logs.
Each webhook still answers only after its own alerts are committed, with its own counts.

Deliveries that share a fingerprint are not combined (their order would matter), a batch
stops at `max_alerts`, and when a combined batch fails each of its deliveries is tried on its
own, so one broken delivery cannot fail the others.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from bot.background.ingest import AlertIngestor, DeliveryAudit, IngestResult
from core.alerts import Alert

log = logging.getLogger(__name__)


@dataclass
class _Pending:
    alerts: list[Alert]
    truncated_alerts: int
    audit: DeliveryAudit | None = None
    done: asyncio.Future[IngestResult] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class AlertIntake:
    """Submits deliveries to the ingestor, combining the ones that wait for each other."""

    def __init__(self, ingestor: AlertIngestor, *, max_alerts: int = 2000) -> None:
        self._ingestor = ingestor
        self._max_alerts = max_alerts
        self._queue: list[_Pending] = []
        self._lock = asyncio.Lock()

    async def submit(
        self,
        alerts: list[Alert],
        *,
        truncated_alerts: int = 0,
        audit: DeliveryAudit | None = None,
    ) -> IngestResult:
        """Store one delivery (committed when this returns, with its audit entry when `audit`
        is given); raises what ingestion raised."""
        pending = _Pending(alerts, truncated_alerts, audit)
        self._queue.append(pending)
        async with self._lock:
            if not pending.done.done():
                await self._store(self._take(pending))
        return pending.done.result()

    def _take(self, mine: _Pending) -> list[_Pending]:
        """The queued deliveries to store now: `mine` first, then others in arrival order
        while they share no fingerprint and stay within `max_alerts`."""
        batch = [mine]
        taken = {alert.fingerprint for alert in mine.alerts}
        size = len(mine.alerts)
        for other in list(self._queue):
            if other is mine or other.done.done():
                continue
            fingerprints = {alert.fingerprint for alert in other.alerts}
            if fingerprints & taken or size + len(other.alerts) > self._max_alerts:
                continue
            batch.append(other)
            taken |= fingerprints
            size += len(other.alerts)
        for item in batch:
            self._queue.remove(item)
        return batch

    async def _store(self, batch: list[_Pending]) -> None:
        try:
            results = await self._ingestor.ingest_many(
                [(item.alerts, item.truncated_alerts) for item in batch],
                [item.audit for item in batch],
            )
        except Exception as error:
            if len(batch) == 1:
                batch[0].done.set_exception(error)
                return
            log.warning(
                "a combined batch failed; storing its deliveries one by one",
                extra={"deliveries": len(batch), "error": repr(error)},
            )
            for item in batch:
                try:
                    [result] = await self._ingestor.ingest_many(
                        [(item.alerts, item.truncated_alerts)], [item.audit]
                    )
                except Exception as alone:
                    item.done.set_exception(alone)
                else:
                    item.done.set_result(result)
            return
        for item, result in zip(batch, results, strict=True):
            item.done.set_result(result)
