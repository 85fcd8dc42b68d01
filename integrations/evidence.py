"""Live evidence around a moment: the golden signals of services from Prometheus, their
error-log patterns from Loki, and dependency health from service-graph metrics.

Every read runs its queries concurrently under one deadline; what could not be read is
said in one sentence (`problem`) and the rest still counts, so a slow Prometheus or a Loki
that is down costs chat a few seconds and a sentence, never an error.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from core.log_lines import LogLine, LogRules, error_query, fold_stack_traces, trace_query
from core.metric_evidence import Movement, SignalQuery, SignalRules, movement, render, split
from integrations.loki import LokiClient, LokiError
from integrations.prometheus import PrometheusClient, PrometheusError, Series, timed_out

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SeriesEvidence:
    """How one golden signal of one service moved around an incident's start: its movement
    (`moved.moved_index` counts `step_seconds` from the start of the window searched), when
    it first moved (`moved_at`, or None) and its (Unix seconds, value) `points`."""

    service: str
    signal: str
    unit: str
    moved: Movement
    moved_at: datetime | None
    points: list[tuple[float, float]]

    def record(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "signal": self.signal,
            "unit": self.unit,
            "score": round(self.moved.score, 2),
            "direction": self.moved.direction,
            "baseline": self.moved.baseline,
            "peak": self.moved.peak,
            "moved_at": self.moved_at.isoformat() if self.moved_at else None,
            "points": [[round(t), v] for t, v in self.points[-120:]],
        }


@dataclass
class MetricReport:
    series: list[SeriesEvidence] = field(default_factory=list)
    problem: str | None = None


class MetricEvidenceReader:
    def __init__(self, client: PrometheusClient, rules: SignalRules) -> None:
        self._client = client
        self._rules = rules

    @property
    def rules(self) -> SignalRules:
        return self._rules

    async def around(self, services: Sequence[str], at: datetime) -> MetricReport:
        """Each golden signal of each service over `lookback` before `at` and `after` past
        it, strongest first (the earlier mover first on a tie). The baseline is the lookback
        up to `lead` before `at`; the change point (the first point with robust z ≥ 3) is
        looked for from there on, so a series that moved a few minutes before the first
        alert is seen moving then."""
        rules = self._rules
        start = at - timedelta(minutes=rules.lookback_minutes)
        end = at + timedelta(minutes=rules.after_minutes)
        jobs = [(service, query) for service in services for query in rules.queries]
        answers = await self._gather(
            [
                self._client.query_range(
                    render(query.expr, service), start=start, end=end, step=rules.step_seconds
                )
                for service, query in jobs
            ]
        )
        report = MetricReport()
        failed = 0
        for (service, query), answer in zip(jobs, answers, strict=True):
            if isinstance(answer, BaseException):
                failed += 1
                continue
            report.series.extend(_evidence(service, query, answer, at - rules.lead, rules))
        if answers and failed == len(answers):
            report.problem = _unreachable(answers, self._rules.timeout_seconds)
        elif failed:
            report.problem = f"Prometheus did not answer {failed} of {len(answers)} signal queries."
        report.series.sort(key=_strongest_then_first)
        return report

    async def range(self, expr: str, *, start: datetime, end: datetime) -> list[Series]:
        """One range query with about 120 points; raises PrometheusError."""
        step = max((end - start).total_seconds() / 120, 1.0)
        async with asyncio.timeout(self._rules.timeout_seconds):
            return await self._client.query_range(expr, start=start, end=end, step=step)

    async def ranges(
        self, jobs: Sequence[tuple[str, tuple[datetime, datetime]]]
    ) -> list[list[Series]]:
        """Several range queries ((expr, (start, end)) each, about 120 points) at once,
        under one deadline; raises the first failure (PrometheusError or TimeoutError)."""
        async with asyncio.timeout(self._rules.timeout_seconds):
            answers = await asyncio.gather(
                *(
                    self._client.query_range(
                        expr,
                        start=start,
                        end=end,
                        step=max((end - start).total_seconds() / 120, 1.0),
                    )
                    for expr, (start, end) in jobs
                ),
                return_exceptions=True,
            )
        for answer in answers:
            if isinstance(answer, BaseException):
                raise answer
        return [answer for answer in answers if not isinstance(answer, BaseException)]

    async def _gather(self, calls: list[Any]) -> list[Any]:
        try:
            async with asyncio.timeout(self._rules.timeout_seconds):
                return list(await asyncio.gather(*calls, return_exceptions=True))
        except TimeoutError:
            return [TimeoutError("Prometheus did not answer in time")] * len(calls)


def _evidence(
    service: str,
    query: SignalQuery,
    answer: list[Series],
    change_from: datetime,
    rules: SignalRules,
) -> list[SeriesEvidence]:
    found = []
    for series in answer[:1]:  # a signal query answers one series per service
        before, after, times = split(series.points, change_from.timestamp())
        moved = movement(before, after)
        if moved is None:
            continue
        moved_at = None
        if moved.moved_index is not None and moved.moved_index < len(times):
            first = times[moved.moved_index]
            moved_at = datetime.fromtimestamp(first, tz=change_from.tzinfo)
            # Counted in steps from the window's start, not in points: a series with a gap
            # compares with the others on the same clock.
            steps = round((first - change_from.timestamp()) / rules.step_seconds)
            moved = replace(moved, moved_index=max(steps, 0))
        found.append(
            SeriesEvidence(service, query.name, query.unit, moved, moved_at, series.points)
        )
    return found


def _strongest_then_first(item: SeriesEvidence) -> tuple[float, float]:
    moved_at = item.moved_at.timestamp() if item.moved_at is not None else math.inf
    return (-round(item.moved.score, 6), moved_at)


def _unreachable(answers: Sequence[object], seconds: float) -> str:
    reasons = {str(answer) for answer in answers if isinstance(answer, BaseException)}
    log.warning("metric evidence unavailable", extra={"reasons": sorted(reasons)[:3]})
    failures = [a for a in answers if isinstance(a, BaseException)]
    if failures and all(timed_out(a) for a in failures):
        return f"Prometheus did not answer within {seconds:g} s, so there is no metric evidence."
    if any(isinstance(a, TimeoutError | PrometheusError) for a in answers):
        return "Prometheus could not be reached, so there is no metric evidence."
    return "Prometheus did not answer the signal queries."


@dataclass
class LogReport:
    lines: list[LogLine] = field(default_factory=list)
    problem: str | None = None


class LogEvidenceReader:
    def __init__(self, client: LokiClient, rules: LogRules) -> None:
        self._client = client
        self._rules = rules

    async def errors(self, services: Sequence[str], start: datetime, end: datetime) -> LogReport:
        """The error lines of `services` in [start, end], stack traces folded."""
        queries = [error_query(self._rules, service) for service in services]
        return await self._read(queries, start, end)

    async def trace(self, trace_id: str, start: datetime, end: datetime) -> LogReport:
        """Every line, of any service, that carries `trace_id`."""
        return await self._read([trace_query(self._rules, trace_id)], start, end)

    def _slow(self) -> str:
        return (
            f"Loki did not answer within {self._rules.timeout_seconds:g} s, "
            "so there are no log patterns."
        )

    async def _read(self, queries: list[str], start: datetime, end: datetime) -> LogReport:
        try:
            async with asyncio.timeout(self._rules.timeout_seconds):
                answers = await asyncio.gather(
                    *(
                        self._client.query_range(q, start=start, end=end, limit=self._rules.limit)
                        for q in queries
                    ),
                    return_exceptions=True,
                )
        except TimeoutError:
            return LogReport(problem=self._slow())
        report = LogReport()
        lines: list[LogLine] = []
        failures: list[str] = []
        slow = 0
        for answer in answers:
            if isinstance(answer, LokiError):
                failures.append(str(answer))
                slow += timed_out(answer)
            elif isinstance(answer, BaseException):
                raise answer
            else:
                lines.extend(answer)
        if failures:
            log.warning("log queries failed", extra={"errors": failures[:3]})
            if slow == len(answers):
                report.problem = self._slow()
            elif len(failures) == len(answers):
                report.problem = "Loki could not be reached, so there are no log patterns."
            else:
                report.problem = (
                    f"Loki did not answer {len(failures)} of {len(answers)} log queries."
                )
        lines.sort(key=lambda line: line.at)
        report.lines = fold_stack_traces(lines)
        return report
