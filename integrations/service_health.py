"""Service health from a live Prometheus, for the blast radius and its live trackers.

`PrometheusHealth.read()` asks every health query of the `health:` section once — each an
instant vector query that answers for all services at once — concurrently, under one short
deadline, and keeps the answer for `cache_seconds`, so a burst of questions costs one round
of queries and a slow Prometheus costs chat at most `timeout_seconds`. Concurrent callers
share one round. What Prometheus could not answer is said in one sentence (`problem`); the
readings that did come back still count.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from core.service_health import HealthReading, HealthRules, assess, worst
from integrations.prometheus import (
    PrometheusClient,
    PrometheusError,
    PrometheusUnreachableError,
    Sample,
)

log = logging.getLogger(__name__)

UNREACHABLE = "Prometheus could not be reached, so statuses come from open alerts only."


@dataclass(frozen=True)
class HealthSnapshot:
    """What the health queries said at one moment."""

    readings: Mapping[str, HealthReading] = field(default_factory=dict)
    answered: tuple[str, ...] = ()  # the queries Prometheus answered, by name
    problem: str | None = None  # one sentence for chat when some or all went unanswered


class PrometheusHealth:
    def __init__(
        self,
        client: PrometheusClient,
        rules: HealthRules,
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._rules = rules
        self._monotonic = monotonic
        self._lock = asyncio.Lock()
        self._cached: tuple[float, HealthSnapshot] | None = None

    @property
    def rules(self) -> HealthRules:
        return self._rules

    async def read(self) -> HealthSnapshot:
        """The current readings: from the cache while fresh, else one round of queries."""
        async with self._lock:
            if self._cached is not None:
                at, snapshot = self._cached
                if self._monotonic() - at < self._rules.cache_seconds:
                    return snapshot
            snapshot = await self._ask()
            self._cached = (self._monotonic(), snapshot)
            return snapshot

    async def _ask(self) -> HealthSnapshot:
        queries = self._rules.queries
        try:
            async with asyncio.timeout(self._rules.timeout_seconds):
                answers = await asyncio.gather(
                    *(self._client.query(query.expr) for query in queries),
                    return_exceptions=True,
                )
        except TimeoutError:
            log.warning(
                "Prometheus did not answer the health queries in time",
                extra={"timeout_seconds": self._rules.timeout_seconds},
            )
            return HealthSnapshot(problem=UNREACHABLE)
        per_query: list[dict[str, HealthReading]] = []
        answered: list[str] = []
        missed: list[str] = []
        unreachable = False
        for query, answer in zip(queries, answers, strict=True):
            if isinstance(answer, PrometheusError):
                unreachable = unreachable or isinstance(answer, PrometheusUnreachableError)
                missed.append(query.name)
                log.warning(
                    "a health query failed",
                    extra={"query": query.name, "expr": query.expr, "error": str(answer)},
                )
                continue
            if isinstance(answer, BaseException):
                raise answer
            per_query.append(assess(query, _series(answer), label=self._rules.label))
            answered.append(query.name)
        problem = None
        if not answered and unreachable:
            problem = UNREACHABLE
        elif missed:
            named = ", ".join(f"“{name}”" for name in missed)
            noun = "query" if len(missed) == 1 else "queries"
            rest = "the other queries and open alerts" if answered else "open alerts only"
            problem = (
                f"Prometheus did not answer the health {noun} {named} (see Lookout's log), "
                f"so statuses come from {rest}."
            )
        return HealthSnapshot(readings=worst(per_query), answered=tuple(answered), problem=problem)


def _series(samples: list[Sample]) -> list[tuple[Mapping[str, str], float]]:
    return [(sample.labels, sample.value) for sample in samples]
