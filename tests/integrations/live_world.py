"""One afternoon of a small shop, written into a real Prometheus at the times the tests need:
service-graph metrics of four calls (Tempo's and Istio's shapes) and checkout's own HTTP
metrics, now, the hour before, and the same windows a day and a week ago.

What happened (NOW is the moment the world was written):

* checkout → payments (Tempo): 20 req/s; 0.1 % failed and p95 under 100 ms, until 14 min
  before NOW, when 10 % start failing and calls take ~450 ms;
* checkout → inventory (Tempo): 8 req/s, 0.1 % failed, ~80 ms, always;
* checkout → cache (Tempo): 5 req/s, new today — no data a day or a week ago;
* checkout → legacy-tax (Tempo): 3 req/s a day and a week ago, not called at all today;
* web → checkout (Istio, reported by both proxies): 10 req/s until 14 min before NOW, then
  3 req/s (web's users left);
* checkout's own `http_requests_total`: 40 req/s now, 20 req/s a day ago; 5 % of them 500s
  now, 1 % a day ago.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bot.background.ingest import AlertIngestor
from core.alerts import Alert, fingerprint
from skills.catalog import default_registry
from skills.context import SkillTools
from skills.contract import Role
from skills.dispatcher import AccessPolicy, Dispatcher
from storage.database import Database
from tests.integrations.prometheus_backfill import OpenMetrics, Span, backfill
from tests.skills.conftest import Clock, Harness

DAY, WEEK = 86400.0, 7 * 86400.0
BROKE = 14 * 60  # seconds before NOW that payments broke and web's traffic fell
SECONDS = [0.05, 0.1, 0.25, 0.5, 1.0, 2.5]
MILLISECONDS = [50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0]


@dataclass(frozen=True)
class LiveWorld:
    url: str  # the Prometheus serving it
    now: float  # Unix seconds: NOW

    @property
    def at(self) -> datetime:
        return datetime.fromtimestamp(self.now, tz=UTC)


def harness_at(database: Database, tools: SkillTools, now: datetime) -> Harness:
    """The real dispatcher and skills on `database`, with `tools` (and its projects), its
    clock at `now`."""
    clock = Clock()
    clock.now = now
    dispatcher = Dispatcher(
        registry=default_registry(),
        database=database,
        access=AccessPolicy(default_role=Role.RESPONDER),
        clock=clock,
        tools=tools,
        projects=lambda: tools.projects,
    )
    return Harness(database, dispatcher, AlertIngestor(database, clock=clock), clock)


def alert_at(name: str, service: str, starts_at: datetime) -> Alert:
    labels = {"alertname": name, "service": service, "severity": "critical"}
    return Alert(
        fingerprint=fingerprint(labels),
        status="firing",
        starts_at=starts_at,
        ends_at=None,
        labels=labels,
        annotations={"summary": f"{name} on {service}"},
    )


def spans(now: float, *, when: str = "always") -> list[Span]:
    """A day ago and a week ago (35 min around the same time), and the last 95 minutes;
    `when`: "today" only the latter, "before" only the former."""
    recent = [(now - 95 * 60, now)]
    before = [(now - ago - 35 * 60, now - ago + 5 * 60) for ago in (WEEK, DAY)]
    return {"today": recent, "before": before}.get(when, before + recent)


def write(folder: Path, now: float) -> Path:
    metrics = OpenMetrics()

    def after(value_before: float, value_after: float) -> Callable[[float], float]:
        return lambda t: value_after if t >= now - BROKE else value_before

    def steady(value: float) -> Callable[[float], float]:
        return lambda t: value

    tempo = "traces_service_graph_request"
    for server, rate, failed, latency, when in (
        ("payments", 20.0, after(0.02, 2.0), after(0.08, 0.45), "always"),
        ("inventory", 8.0, after(0.008, 0.008), after(0.08, 0.08), "always"),
        ("cache", 5.0, after(0.005, 0.005), after(0.02, 0.02), "today"),
        ("legacy-tax", 3.0, after(0.003, 0.003), after(0.05, 0.05), "before"),
    ):
        edge = {"client": "checkout", "server": server}
        span = spans(now, when=when)
        metrics.counter(f"{tempo}_total", edge, steady(rate), span)
        metrics.counter(f"{tempo}_failed_total", edge, failed, span)
        metrics.histogram(f"{tempo}_server_seconds", edge, steady(rate), latency, SECONDS, span)
    web_rate = after(10.0, 3.0)
    for reporter in ("source", "destination"):
        labels = {
            "source_workload": "web",
            "destination_workload": "checkout",
            "reporter": reporter,
        }
        metrics.counter(
            "istio_requests_total", {**labels, "response_code": "200"}, web_rate, spans(now)
        )
        metrics.histogram(
            "istio_request_duration_milliseconds",
            labels,
            web_rate,
            lambda t: 80.0,
            MILLISECONDS,
            spans(now),
        )

    def today(now_rate: float, then_rate: float) -> Callable[[float], float]:
        return lambda t: now_rate if t > now - DAY / 2 else then_rate

    def checkout(ok: float, errors: float, ok_then: float, errors_then: float) -> None:
        for code, now_rate, then_rate in (("200", ok, ok_then), ("500", errors, errors_then)):
            metrics.counter(
                "http_requests_total",
                {"service": "checkout", "code": code},
                today(now_rate, then_rate),
                spans(now),
            )

    checkout(38.0, 2.0, 19.8, 0.2)
    return backfill(metrics, folder)
