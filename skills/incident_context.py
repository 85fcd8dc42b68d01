"""An incident's context — related changes, moving metrics, dependency health, log patterns
and similar past incidents — in three steps, so that no transaction is open while machines
answer:

1. `gather` reads what the database knows (the incident's services, the changes of the two
   hours before, the incident as retrieval describes it) in a unit of work;
2. `observe` asks Prometheus, Loki and the index, concurrently, with none open;
3. `snapshot` puts it together (pure); the caller stores it in a fresh unit of work.

`correlate` answers with the snapshot; new incidents get it posted in their thread when
`worth_posting` finds something to say (see `bot.background.context_posts`).

Root cause: the snapshot ranks the incident's services as the incident message does
(`core.root_cause`: alerts, topology, a strong change on the same service), with the metric
evidence added (`core.metric_evidence.rank_services`: the series that moved first and most,
a caller discounted when its dependency moved more and earlier) — so a dependency whose
metrics moved first joins the candidates without an alert. The ranking stays with the
snapshot; the incident message's 🎯 line is re-derived from the alerts at every batch, so it
is not overwritten here (it would flap back at the next alert); when the two disagree, the
snapshot says so.

Confidence of the leading explanation, split into four factors:

* **signal strength** — the best change's score, the strongest metric move
  (`1 - e^(-z/10)`), or a call of the incident's services that is failing (0.8) or
  degraded (0.5) against the hour before, whichever is strongest;
* **timing** — the best change's timing factor, or 1 when a metric or a call moved by the
  start;
* **precedent** — how alike the closest similar past incident is (the cosine similarity of
  the two incidents' descriptions; 0 with none). The retrieval score that orders them is a
  reciprocal-rank fusion (`knowledge.fusion`: a few hundredths for the best hit) and says
  nothing about how alike they are;
* **evidence quality** — the share of the sources asked (changes, Prometheus's golden
  signals and service graph, Loki) that answered.

Confidence = 0.4 × strength + 0.25 × timing + 0.15 × precedent + 0.2 × quality.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from core.change_correlation import (
    CLOCK_SKEW,
    WINDOW,
    ScoredChange,
    incident_environment,
    score_changes,
)
from core.incident_summary import naming_alerts, root_cause_from_record, service_failures
from core.metric_evidence import Movement, rank_services
from core.root_cause import MetricSupport, RecentChange, ServiceFailure, rank_root_causes
from core.topology import Topology
from integrations.dependency_health import DependencyReport
from integrations.evidence import LogReport, MetricReport
from knowledge.log_patterns import LogPattern, mine
from knowledge.service import Knowledge, Reader
from knowledge.similar import Match, Target, incident_target, similar_incidents
from skills.context import SkillTools
from storage.changes import ChangeRepository
from storage.models import IncidentRow

LOG_WINDOW = timedelta(minutes=5)
DEPENDENCY_AFTER = timedelta(minutes=10)
MOVED = 3.0  # robust z from which a golden signal is listed as moved
POST_MOVED = 5.0  # …and from which it is worth posting unasked
WEIGHTS = {"signal strength": 0.4, "timing": 0.25, "precedent": 0.15, "evidence quality": 0.2}
MAX_DEPENDENCIES = 8
CALL_STRENGTH = {"failing": 0.8, "degraded": 0.5}  # a call's signal strength by its status


@dataclass(frozen=True)
class ContextInputs:
    """What the database knows about the incident, read in the caller's unit of work."""

    incident_id: int
    start: datetime
    services: list[str]
    nearby: list[str]  # the services they call, one hop away
    changes: list[ScoredChange]
    calls: dict[str, list[str]]  # service → the services it calls (for the metric ranking)
    target: Target | None  # the incident as retrieval describes it (None: no knowledge)
    behind: int  # timeline changes the index has not caught up with
    # The projects whose past incidents it may cite (None: all of them, one team).
    projects: frozenset[str] | None = None
    # Each alerting service's first alert and worst severity, for the root-cause ranking.
    failures: dict[str, ServiceFailure] = field(default_factory=dict)
    topology: Topology = field(default_factory=Topology)
    stored_cause: str | None = None  # the service the incident message's 🎯 line names


@dataclass
class LiveEvidence:
    """What the machines said; None where a source is not configured."""

    metrics: MetricReport | None = None
    dependencies: DependencyReport | None = None
    logs: LogReport | None = None
    patterns: list[LogPattern] = field(default_factory=list)
    similar: list[Match] = field(default_factory=list)


async def gather(
    reader: Reader,
    changes: ChangeRepository,
    incident: IncidentRow,
    *,
    topology: Topology,
    knowledge: Knowledge | None,
    projects: frozenset[str] | None = None,
) -> ContextInputs:
    """Step 1, in a unit of work: the database's part. `projects`: whose past incidents
    the evidence may cite (None: all); `changes` is scoped by the caller."""
    start = incident.first_alert_at
    briefs = (await reader.alerts.briefs(incident_ids=[incident.id]))[incident.id]
    services = sorted({b.service for b in briefs if b.service} or {incident.service})
    nearby = sorted(
        {dep for name in services for dep in topology.upstream(name, max_hops=1)} - set(services)
    )
    recent = await changes.between(since=start - WINDOW, until=start + CLOCK_SKEW)
    environment = None
    if recent:
        environment = incident_environment(await reader.alerts.label_sets(incident_id=incident.id))
    scored = score_changes(
        recent, services=services, first_alert_at=start, topology=topology, environment=environment
    )
    failures = service_failures(naming_alerts(briefs))
    stored = root_cause_from_record(incident.root_cause)
    target, behind = None, 0
    if knowledge is not None:
        target = await incident_target(reader, incident)
        behind = await knowledge.behind(reader.knowledge)
    return ContextInputs(
        incident_id=incident.id,
        start=start,
        services=services,
        nearby=nearby,
        changes=scored[:5],
        calls={name: list(topology.dependencies(name)) for name in [*services, *nearby]},
        target=target,
        behind=behind,
        projects=projects,
        failures=failures,
        topology=topology,
        stored_cause=stored.service if stored is not None else None,
    )


async def observe(inputs: ContextInputs, tools: SkillTools, *, now: datetime) -> LiveEvidence:
    """Step 2, with no transaction open: Prometheus, Loki and the index, concurrently."""
    start = inputs.start
    live = LiveEvidence()

    async def metrics() -> None:
        if tools.metrics is not None:
            live.metrics = await tools.metrics.around([*inputs.services, *inputs.nearby], start)

    async def dependencies() -> None:
        if tools.dependencies is not None:
            window_start = start - LOG_WINDOW
            end = max(min(now, start + DEPENDENCY_AFTER), window_start + timedelta(minutes=1))
            live.dependencies = await tools.dependencies.read(
                inputs.services, start=window_start, end=end, against="1h"
            )

    async def logs() -> None:
        if tools.logs is not None:
            live.logs = await tools.logs.errors(
                inputs.services, start - LOG_WINDOW, start + LOG_WINDOW
            )
            # Mining takes CPU: in a worker thread, so the event loop keeps serving.
            live.patterns = await asyncio.to_thread(mine, live.logs.lines)

    async def similar() -> None:
        if tools.knowledge is not None and inputs.target is not None:
            live.similar, _ = await similar_incidents(
                tools.knowledge.scoped(inputs.projects),
                inputs.target,
                limit=3,
                behind=inputs.behind,
            )

    await asyncio.gather(metrics(), dependencies(), logs(), similar())
    return live


def snapshot(inputs: ContextInputs, live: LiveEvidence, *, now: datetime) -> dict[str, Any]:
    """Step 3 (pure): everything found, as a JSON-ready record."""
    problems: list[str] = []
    answered, asked = 1, 1  # the change log always answers
    metrics: list[dict[str, Any]] = []
    support: dict[str, MetricSupport] = {}
    if live.metrics is not None:
        asked += 1
        report = live.metrics
        if report.problem:
            problems.append(report.problem)
        if report.series:
            answered += 1
        metrics = [item.record() for item in report.series if item.moved.score >= MOVED][:8]
        support = metric_support(report, inputs.calls)
    dependencies: list[dict[str, Any]] = []
    calls_seen = 0
    if live.dependencies is not None:
        asked += 1
        graph = live.dependencies
        if graph.problem:
            problems.append(graph.problem)
        else:
            answered += 1
        dependencies = [edge.record() for edge in graph.edges[:MAX_DEPENDENCIES]]
        calls_seen = graph.total
    if live.logs is not None:
        asked += 1
        if live.logs.problem:
            problems.append(live.logs.problem)
        else:
            answered += 1
    similar = [
        {
            "incident": m.ref,
            "title": m.document.title,
            "score": round(m.score, 3),
            "similarity": round(m.similarity or 0.0, 2),
            "resolution": m.fix,
        }
        for m in live.similar
    ]
    confidence = _confidence(inputs.changes[:1], metrics, dependencies, similar, answered / asked)
    return {
        "incident": inputs.incident_id,
        "taken_at": now.isoformat(),
        "start": inputs.start.isoformat(),
        "services": inputs.services,
        "changes": [item.record() for item in inputs.changes],
        "metrics": metrics,
        "root_causes": root_causes(inputs, support),
        "stored_cause": inputs.stored_cause,
        "dependencies": dependencies,
        "calls_seen": calls_seen,
        "logs": [pattern.record() for pattern in live.patterns[:8]],
        "similar": similar,
        "problems": problems,
        "confidence": confidence,
    }


def metric_support(report: MetricReport, calls: dict[str, list[str]]) -> dict[str, MetricSupport]:
    """Each service whose golden signals moved (a point at robust z ≥ 3), with its metric
    evidence as `core.metric_evidence.rank_services` weighs it (`calls`: service → the
    services it calls, for the discount of a caller whose dependency moved more and earlier)."""
    movements: dict[tuple[str, str], Movement] = {
        (item.service, item.signal): item.moved for item in report.series
    }
    moved_at: dict[str, datetime] = {}
    for item in report.series:
        if item.moved_at is not None:
            known = moved_at.get(item.service)
            moved_at[item.service] = item.moved_at if known is None else min(known, item.moved_at)
    services = {service for service, _ in movements}
    ranked = rank_services(movements, dependencies={name: calls.get(name, []) for name in services})
    return {
        candidate.service: MetricSupport(
            evidence=candidate.score,
            series=candidate.series,
            score=movements[(candidate.service, candidate.series)].score,
            moved_at=moved_at[candidate.service],
            explained_by=candidate.explained_by,
        )
        for candidate in ranked
        if candidate.service in moved_at and candidate.score > 0
    }


def root_causes(inputs: ContextInputs, support: dict[str, MetricSupport]) -> list[dict[str, Any]]:
    """The incident's root-cause ranking with the metric evidence added, as records
    (`service`, `confidence` 0–1, `factors`, `metrics`: whether its metrics counted); the
    best five. Empty when it would only repeat the incident message: one alerting service
    and no metric evidence."""
    if not inputs.failures or (len(inputs.failures) == 1 and not support):
        return []
    raised = [
        RecentChange(item.service, min(item.change.landed_at, inputs.start), item.change.summary())
        for item in inputs.changes
        if item.strong and item.relation == "same"
    ]
    ranking = rank_root_causes(
        inputs.failures,
        inputs.topology,
        changes=raised,
        change_lookback=WINDOW,
        metrics=support,
    )
    return [
        {
            "service": cause.service,
            "confidence": cause.confidence,
            "factors": list(cause.factors),
            "metrics": cause.service in support,
        }
        for cause in ranking[:5]
    ]


def worth_posting(snapshot: dict[str, Any]) -> list[str]:
    """Why the snapshot is worth posting in a new incident's thread unasked (empty: it is
    not): a strong change, a golden signal that moved at least `POST_MOVED` robust
    deviations, a dependency that is failing or degraded against the hour before, or
    error-log patterns around the start. Similar past incidents alone are not: "Seen
    before?" says those."""
    reasons = []
    strong = [c for c in snapshot.get("changes") or [] if ScoredChange.from_record(c).strong]
    if strong:
        reasons.append("a strong change")
    if any(float(m["score"]) >= POST_MOVED for m in snapshot.get("metrics") or []):
        reasons.append("a moved metric")
    if any(d["status"] != "healthy" for d in snapshot.get("dependencies") or []):
        reasons.append("an unhealthy dependency")
    if snapshot.get("logs"):
        reasons.append("error-log patterns")
    return reasons


def _confidence(
    best_change: list[ScoredChange],
    metrics: list[dict[str, Any]],
    dependencies: list[dict[str, Any]],
    similar: list[dict[str, Any]],
    quality: float,
) -> dict[str, Any]:
    change = best_change[0] if best_change else None
    metric_strength = 1 - math.exp(-float(metrics[0]["score"]) / 10) if metrics else 0.0
    unhealthy = [d for d in dependencies if d["status"] != "healthy"]
    call_strength = CALL_STRENGTH.get(unhealthy[0]["status"], 0.0) if unhealthy else 0.0
    strength = max(change.score if change else 0.0, metric_strength, call_strength)
    if change is not None and change.score >= max(metric_strength, call_strength):
        timing = float(change.factors["timing"])
    else:
        timing = 1.0 if metrics or unhealthy else 0.0
    precedent = max((float(s["similarity"]) for s in similar), default=0.0)
    factors = {
        "signal strength": round(strength, 2),
        "timing": round(timing, 2),
        "precedent": round(min(precedent, 1.0), 2),
        "evidence quality": round(quality, 2),
    }
    score = sum(WEIGHTS[name] * value for name, value in factors.items())
    leading = None
    if (
        change is not None
        and change.score > 0
        and change.score >= max(metric_strength, call_strength)
    ):
        leading = f"change: {change.change.what()}"
    elif metrics and metric_strength >= call_strength:
        leading = f"metrics: {metrics[0]['service']} {metrics[0]['signal']}"
    elif unhealthy:
        worst = unhealthy[0]
        leading = f"dependency: {worst['client']} → {worst['server']} {worst['headline']}"
    return {"score": round(score, 2), "factors": factors, "leading": leading}
