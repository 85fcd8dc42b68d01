"""`correlate [incident]`: an incident's context in one reply, kept with the incident.

Related changes (scored by `core.change_correlation`), the golden signals that moved at the
incident's start (robust z, `core.metric_evidence`) and the services they point at, the
error-log patterns of its services ±5 min around the start (Drain templates), and similar
past incidents — each with its score — and one confidence for the leading explanation,
broken into four factors:

* **signal strength** — the best change's score, or the strongest metric move
  (`1 - e^(-z/10)`), whichever is stronger;
* **timing** — the best change's timing factor, or 1 when a metric moved by the start;
* **precedent** — the best similar past incident's score (0 with none);
* **evidence quality** — the share of the sources asked (changes, Prometheus, Loki) that
  answered.

Confidence = 0.4 × strength + 0.25 × timing + 0.15 × precedent + 0.2 × quality. Prometheus
and Loki forget, so the snapshot is stored with the incident; `show` repeats it.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Annotated, Any

from pydantic import BaseModel, Field

from core.change_correlation import CLOCK_SKEW, WINDOW, score_changes
from core.incidents import display_id
from core.metric_evidence import Movement, rank_services
from knowledge.log_patterns import mine
from knowledge.similar import similar_incidents
from skills.commands.retrieval import reader_of, target_of
from skills.context import SkillContext
from skills.contract import Block, Context, Image, Reply, Text
from skills.evidence_text import movement_text
from skills.formatting import clock_time
from skills.grammar import Positional
from skills.lookups import load_incident
from skills.registry import Skill
from skills.views.sparkline import sparkline_png
from storage.models import IncidentRow

LOG_WINDOW = timedelta(minutes=5)
MOVED = 3.0
WEIGHTS = {"signal strength": 0.4, "timing": 0.25, "precedent": 0.15, "evidence quality": 0.2}


class CorrelateArgs(BaseModel):
    incident: Annotated[str | None, Positional()] = Field(
        default=None, description="incident id (INC-42); defaults to the thread's incident"
    )


class CorrelateSkill(Skill[CorrelateArgs]):
    verb = "correlate"
    aliases = ("context",)
    summary = "Changes, moving metrics, log patterns and precedents around an incident."
    args_model = CorrelateArgs

    async def handle(self, ctx: SkillContext, args: CorrelateArgs) -> Reply:
        incident = await load_incident(ctx, args.incident)
        snapshot = await take_snapshot(ctx, incident)
        await ctx.contexts.add(
            incident_id=incident.id,
            snapshot=snapshot,
            requested_by=ctx.actor.display_name,
            now=ctx.now,
        )
        blocks = snapshot_blocks(snapshot)
        chart = _chart(snapshot)
        if chart is not None:
            blocks.insert(-1, chart)
        return Reply(blocks=blocks, incident_id=incident.id)


async def take_snapshot(ctx: SkillContext, incident: IncidentRow) -> dict[str, Any]:
    """Everything `correlate` found, as a JSON-ready record."""
    start = incident.first_alert_at
    briefs = (await ctx.alerts.briefs(incident_ids=[incident.id]))[incident.id]
    services = sorted({b.service for b in briefs if b.service} or {incident.service})
    topology = ctx.topology
    nearby = sorted(
        {dep for name in services for dep in topology.upstream(name, max_hops=1)} - set(services)
    )
    problems: list[str] = []
    answered, asked = 1, 1  # the change log always answers

    changes = await ctx.changes.between(since=start - WINDOW, until=start + CLOCK_SKEW)
    scored = score_changes(changes, services=services, first_alert_at=start, topology=topology)

    metrics: list[dict[str, Any]] = []
    candidates: list[dict[str, Any]] = []
    if ctx.tools.metrics is not None:
        asked += 1
        report = await ctx.tools.metrics.around([*services, *nearby], start)
        if report.problem:
            problems.append(report.problem)
        if report.series:
            answered += 1
        metrics = [item.record() for item in report.series if item.moved.score >= MOVED][:8]
        movements: dict[tuple[str, str], Movement] = {
            (item.service, item.signal): item.moved for item in report.series
        }
        dependencies = {
            name: list(topology.dependencies(name)) for name in movements_services(movements)
        }
        candidates = [
            {"service": c.service, "score": round(c.score, 2), "series": c.series,
             "explained_by": c.explained_by}
            for c in rank_services(movements, dependencies=dependencies)[:5]
            if c.score > 0
        ]  # fmt: skip

    patterns: list[dict[str, Any]] = []
    if ctx.tools.logs is not None:
        asked += 1
        logs = await ctx.tools.logs.errors(services, start - LOG_WINDOW, start + LOG_WINDOW)
        if logs.problem:
            problems.append(logs.problem)
        else:
            answered += 1
        patterns = [pattern.record() for pattern in mine(logs.lines)[:8]]

    similar: list[dict[str, Any]] = []
    knowledge = ctx.tools.knowledge
    if knowledge is not None:
        target = await target_of(ctx, incident)
        matches, _notes = await similar_incidents(knowledge, reader_of(ctx), target, limit=3)
        similar = [
            {
                "incident": m.ref,
                "title": m.document.title,
                "score": round(m.score, 2),
                "resolution": m.fix,
            }
            for m in matches
        ]
    confidence = _confidence(scored[:1], metrics, similar, answered / asked)
    return {
        "incident": incident.id,
        "taken_at": ctx.now.isoformat(),
        "start": start.isoformat(),
        "services": services,
        "changes": [item.record() for item in scored[:5]],
        "metrics": metrics,
        "candidates": candidates,
        "logs": patterns,
        "similar": similar,
        "problems": problems,
        "confidence": confidence,
    }


def movements_services(movements: dict[tuple[str, str], Movement]) -> set[str]:
    return {service for service, _ in movements}


def _confidence(
    best_change: list[Any],
    metrics: list[dict[str, Any]],
    similar: list[dict[str, Any]],
    quality: float,
) -> dict[str, Any]:
    change = best_change[0] if best_change else None
    metric_strength = 1 - math.exp(-float(metrics[0]["score"]) / 10) if metrics else 0.0
    strength = max(change.score if change else 0.0, metric_strength)
    if change is not None and change.score >= metric_strength:
        timing = float(change.factors["timing"])
    else:
        timing = 1.0 if metrics else 0.0
    precedent = float(similar[0]["score"]) if similar else 0.0
    factors = {
        "signal strength": round(strength, 2),
        "timing": round(timing, 2),
        "precedent": round(min(precedent, 1.0), 2),
        "evidence quality": round(quality, 2),
    }
    score = sum(WEIGHTS[name] * value for name, value in factors.items())
    leading = None
    if change is not None and change.score >= metric_strength and change.score > 0:
        leading = f"change: {change.change.what()}"
    elif metrics:
        leading = f"metrics: {metrics[0]['service']} {metrics[0]['signal']}"
    return {"score": round(score, 2), "factors": factors, "leading": leading}


def snapshot_blocks(snapshot: dict[str, Any], *, stored: bool = False) -> list[Block]:
    """The snapshot as chat blocks (`correlate` answers with them; `show` repeats them)."""
    ref = display_id(int(snapshot["incident"]))
    confidence = snapshot["confidence"]
    factors = " · ".join(f"{k} {v:.2f}" for k, v in confidence["factors"].items())
    head = f"**Context of {ref}**"
    if confidence.get("leading"):
        head += f" — most likely: {confidence['leading']}"
    blocks: list[Block] = [
        Text(head),
        Context(f"Confidence {confidence['score']:.2f} ({factors})"),
    ]
    changes = snapshot.get("changes") or []
    if changes:
        lines = []
        for item in changes:
            change = item["change"]
            what = " ".join(
                part for part in (", ".join(change["services"]), change.get("version")) if part
            )
            by = f" by {change['author']}" if change.get("author") else ""
            lines.append(
                f"• {what} {change['kind']}{by}, {round(item['minutes_before'])} min before "
                f"— score {item['score']:.2f} ({item['relation']} service)"
            )
        blocks.append(Text("**Changes**\n" + "\n".join(lines)))
    else:
        blocks.append(Text("**Changes**\nNo change recorded in the 2 h before the first alert."))
    metrics = snapshot.get("metrics") or []
    if metrics:
        lines = [
            f"• {item['service']}: {movement_text(item)}"
            + (f", moved at {item['moved_at'][11:19]}" if item.get("moved_at") else "")
            for item in metrics
        ]
        blocks.append(Text("**Metrics that moved**\n" + "\n".join(lines)))
    candidates = snapshot.get("candidates") or []
    if candidates:
        lines = [
            f"• {c['service']} — evidence {c['score']:.1f} ({c['series']})"
            + (f", explained by {c['explained_by']}" if c.get("explained_by") else "")
            for c in candidates
        ]
        blocks.append(Text("**Root-cause candidates from metrics**\n" + "\n".join(lines)))
    patterns = snapshot.get("logs") or []
    if patterns:
        lines = [
            f"• {p['count']}× `{p['template'][:120]}` (first {p['first_seen'][11:19]})"
            for p in patterns
        ]
        blocks.append(Text("**Error-log patterns**\n" + "\n".join(lines)))
    similar = snapshot.get("similar") or []
    if similar:
        lines = [
            f"• {s['incident']} {s['title']} — score {s['score']:.2f}"
            + (f"; fixed by: {s['resolution']}" if s.get("resolution") else "")
            for s in similar
        ]
        blocks.append(Text("**Similar past incidents**\n" + "\n".join(lines)))
    for problem in snapshot.get("problems") or []:
        blocks.append(Context(problem))
    taken = snapshot["taken_at"][11:19]
    blocks.append(
        Context(
            f"{'Stored snapshot' if stored else 'Snapshot'} taken at {taken} UTC"
            + ("; `correlate` takes a new one." if stored else "; `show` repeats it.")
        )
    )
    return blocks


def _chart(snapshot: dict[str, Any]) -> Image | None:
    metrics = snapshot.get("metrics") or []
    if not metrics:
        return None
    series = [
        (f"{m['service']} {m['signal']}", [(float(t), float(v)) for t, v in m["points"]])
        for m in metrics[:3]
    ]
    start = datetime.fromisoformat(snapshot["start"])
    png = sparkline_png(series, title="moved at the start", marker=start)
    return Image(png=png, alt=f"{len(series)} signals around {clock_time(start)}")
