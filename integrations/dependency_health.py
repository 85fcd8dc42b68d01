"""Dependency health from a live Prometheus: the service-graph metrics of the calls some
services make (or of every call), over a window and a baseline window, judged by
`core.dependency_health`.

One read asks, for every configured source (Tempo, Istio), the request rate, the failed
request rate and the latency quantile over the window and over the baseline — six range
queries per source, concurrently, under one deadline. Edges whose baseline window had no
traffic (a day-old baseline for a service deployed this morning) fall back to the hour
before the window, in one more round. What Prometheus could not answer is said in one
sentence (`problem`); what it did answer still counts.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from core.dependency_health import (
    Against,
    DependencyHealth,
    DependencyRules,
    EdgeSignals,
    GraphShape,
    Points,
    assess,
    by_edge,
    edges_of,
    order,
    signals_from,
)
from integrations.prometheus import (
    PrometheusClient,
    PrometheusUnreachableError,
    Series,
    timed_out,
)

log = logging.getLogger(__name__)

OFFSETS = {"1d": timedelta(days=1), "1w": timedelta(days=7)}
LABELS = {"1h": "the hour before", "1d": "1d ago", "1w": "1w ago"}
POINTS = 60
Answer = list[tuple[Mapping[str, str], Points]]


@dataclass
class DependencyReport:
    """Every edge found, worst first (at most `max_dependencies`), how many there were in
    all, and one sentence about what Prometheus could not answer (None: everything)."""

    edges: list[DependencyHealth] = field(default_factory=list)
    total: int = 0
    problem: str | None = None
    sources: tuple[str, ...] = ()  # the sources that answered with edges


@dataclass(frozen=True)
class _Window:
    start: datetime
    end: datetime
    label: str
    offset: float  # seconds that move this window's times onto the window being judged

    @property
    def step(self) -> float:
        return max((self.end - self.start).total_seconds() / POINTS, 1.0)


def baseline_window(start: datetime, end: datetime, against: Against) -> _Window:
    """The baseline for [start, end]: the same window a day or a week earlier, or the
    hour before `start`."""
    if against == "1h":
        return _Window(start - timedelta(hours=1), start, LABELS["1h"], 0.0)
    offset = OFFSETS[against]
    return _Window(start - offset, end - offset, LABELS[against], offset.total_seconds())


class DependencyHealthReader:
    def __init__(self, client: PrometheusClient, rules: DependencyRules) -> None:
        self._client = client
        self._rules = rules

    @property
    def rules(self) -> DependencyRules:
        return self._rules

    async def read(
        self,
        services: Sequence[str] | None,
        *,
        start: datetime,
        end: datetime,
        against: Against = "1d",
        fallback: bool = True,
    ) -> DependencyReport:
        """The calls `services` make (every call when None) over [start, end] against the
        baseline `against`; with `fallback`, edges with no traffic in that baseline are
        judged against the hour before instead."""
        rules = self._rules
        now = _Window(start, end, "now", 0.0)
        baseline = baseline_window(start, end, against)
        asked: list[tuple[GraphShape, str, _Window]] = [
            (shape, template, window)
            for shape in rules.shapes
            for window in (now, baseline)
            for template in (shape.requests, shape.failures, shape.latency)
        ]
        answers = await self._ask(asked, services)
        failed = [a for a in answers if isinstance(a, BaseException)]
        report = DependencyReport()
        found: list[DependencyHealth] = []
        missing: dict[tuple[str, str, str], EdgeSignals] = {}
        sources: list[str] = []
        for index, shape in enumerate(rules.shapes):
            got = answers[index * 6 : index * 6 + 6]
            if isinstance(got[0], BaseException):
                continue
            current = [_series(a) for a in got[:3]]
            before = [_series(a) for a in got[3:]]
            edges = edges_of(shape, current[0])
            # A call made then and not at all now (its caller stopped, or cannot reach it)
            # is judged too: its traffic fell to nothing.
            edges += [edge for edge in edges_of(shape, before[0]) if edge not in edges]
            if edges:
                sources.append(shape.name)
            now_by = [by_edge(shape, answer) for answer in current]
            before_by = [by_edge(shape, answer) for answer in before]
            for edge in edges:
                signals = signals_from(*(series.get(edge, []) for series in now_by))
                if edge in before_by[0]:
                    base = signals_from(*(series.get(edge, []) for series in before_by))
                    found.append(self._judged(shape.name, edge, signals, base, baseline))
                else:
                    missing[(shape.name, *edge)] = signals
        if missing and fallback and against != "1h":
            found += await self._hour_before(missing, services, start, end)
        elif missing:
            found += [
                self._judged(name, (client, server), signals, None, baseline)
                for (name, client, server), signals in missing.items()
            ]
        ordered = order(found)
        report.total = len(ordered)
        report.edges = ordered[: rules.max_dependencies]
        report.sources = tuple(sources)
        report.problem = _problem(failed, len(answers), rules.timeout_seconds)
        return report

    async def _hour_before(
        self,
        missing: dict[tuple[str, str, str], EdgeSignals],
        services: Sequence[str] | None,
        start: datetime,
        end: datetime,
    ) -> list[DependencyHealth]:
        window = baseline_window(start, end, "1h")
        shapes = [s for s in self._rules.shapes if any(key[0] == s.name for key in missing)]
        asked = [
            (shape, template, window)
            for shape in shapes
            for template in (shape.requests, shape.failures, shape.latency)
        ]
        answers = await self._ask(asked, services)
        judged = []
        for index, shape in enumerate(shapes):
            got = answers[index * 3 : index * 3 + 3]
            keyed = (
                None
                if any(isinstance(a, BaseException) for a in got)
                else [by_edge(shape, _series(a)) for a in got]
            )
            for (name, client, server), signals in missing.items():
                if name != shape.name:
                    continue
                edge = (client, server)
                base = None
                if keyed is not None and edge in keyed[0]:
                    base = signals_from(*(series.get(edge, []) for series in keyed))
                judged.append(self._judged(shape.name, edge, signals, base, window))
        return judged

    def _judged(
        self,
        source: str,
        edge: tuple[str, str],
        now: EdgeSignals,
        base: EdgeSignals | None,
        window: _Window,
    ) -> DependencyHealth:
        return DependencyHealth(
            client=edge[0],
            server=edge[1],
            source=source,
            now=now,
            baseline=base,
            baseline_label=window.label if base is not None else "no baseline",
            findings=tuple(assess(now, base, self._rules)),
            offset=window.offset,
        )

    async def _ask(
        self, asked: list[tuple[GraphShape, str, _Window]], services: Sequence[str] | None
    ) -> list[Any]:
        rules = self._rules
        calls = [
            self._client.query_range(
                rules.render(template, shape, services),
                start=window.start,
                end=window.end,
                step=window.step,
            )
            for shape, template, window in asked
        ]
        try:
            async with asyncio.timeout(rules.timeout_seconds):
                return list(await asyncio.gather(*calls, return_exceptions=True))
        except TimeoutError:
            return [TimeoutError("Prometheus did not answer in time")] * len(calls)


def _series(answer: object) -> list[tuple[Mapping[str, str], Points]]:
    assert isinstance(answer, list)
    return [(item.labels, item.points) for item in answer if isinstance(item, Series)]


def _problem(failed: Sequence[BaseException], asked: int, seconds: float) -> str | None:
    if not failed:
        return None
    log.warning(
        "service-graph queries failed",
        extra={
            "failed": len(failed),
            "asked": asked,
            "errors": sorted({str(f) for f in failed})[:3],
        },
    )
    if len(failed) == asked:
        if all(timed_out(f) for f in failed):
            return (
                f"Prometheus did not answer within {seconds:g} s, so there is no dependency health."
            )
        if all(isinstance(f, PrometheusUnreachableError | TimeoutError) for f in failed):
            return "Prometheus could not be reached, so there is no dependency health."
        return "Prometheus refused the service-graph queries (see Lookout's log)."
    return f"Prometheus did not answer {len(failed)} of {asked} service-graph queries."
