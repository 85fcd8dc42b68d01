"""`health [service] [--since 15m] [--against 1d|1w|1h]`: each dependency's request rate,
error ratio and latency from service-graph metrics (Tempo, Istio) over the window, against
its baseline — the same window a day or a week earlier, or the hour before — with a trend.

Without a service: the calls of the thread's incident's services, else every call (worst
first). A call is failing or degraded by what moved against its baseline (see
`core.dependency_health`); the chart shows the worst calls' moved signal now over the
baseline's.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from core.incidents import display_id
from integrations.dependency_health import DependencyHealthReader, DependencyReport
from skills.context import Answer, SkillContext, outside_reply
from skills.contract import Block, Context, Reply, Text
from skills.dependency_text import MARKS, health_chart, health_table
from skills.errors import NotFoundError
from skills.grammar import Positional
from skills.lookups import load_incident, sees_service
from skills.registry import Skill
from skills.spans import Span, span_text

NO_GRAPH = (
    "Lookout reads dependency health from service-graph metrics in Prometheus: set "
    "PROMETHEUS_URL (and keep `dependency_health:` on) to use `health`."
)
SOURCES = {"tempo": "Tempo's traces_service_graph_*", "istio": "Istio's istio_requests_total"}
BASELINES = {"1h": "the hour before", "1d": "1d ago", "1w": "1w ago"}


class HealthArgs(BaseModel):
    service: Annotated[str | None, Positional()] = Field(
        default=None,
        max_length=255,
        description="the calling service (default: the incident's services, else every call)",
    )
    since: Span | None = Field(default=None, description="the window: 15m, 1h")
    against: Literal["1d", "1w", "1h"] = Field(
        default="1d", description="baseline: 1d or 1w ago, or 1h (the hour before)"
    )


class HealthSkill(Skill[HealthArgs]):
    verb = "health"
    aliases = ("dependency-health", "calls")
    summary = "Each dependency's request rate, errors and latency against its baseline."
    args_model = HealthArgs

    async def handle(self, ctx: SkillContext, args: HealthArgs) -> Answer:
        reader = ctx.tools.dependencies
        if reader is None:
            raise NotFoundError(NO_GRAPH)
        services: list[str] | None = None
        scope = "every call"
        if args.service:
            if not sees_service(ctx, args.service):  # another project's service
                raise NotFoundError(f"There is no service {args.service} you can see.")
            services, scope = [args.service], f"the calls {args.service} makes"
        elif ctx.conversation.incident_id is not None:
            incident = await load_incident(ctx, None)
            briefs = (await ctx.alerts.briefs(incident_ids=[incident.id]))[incident.id]
            services = sorted({b.service for b in briefs if b.service} | {incident.service})
            scope = f"the calls of {display_id(incident.id)}'s services ({', '.join(services)})"
        window = args.since or timedelta(minutes=reader.rules.window_minutes)
        end = ctx.now

        visible = ctx.access.visible
        projects = ctx.tools.projects

        async def answer() -> Reply:
            report = await reader.read(services, start=end - window, end=end, against=args.against)
            if visible is not None:
                # Only calls between services of the asker's projects.
                kept = [
                    edge
                    for edge in report.edges
                    if projects.of_service(edge.client) in visible
                    and projects.of_service(edge.server) in visible
                ]
                report = replace(report, edges=kept, total=len(kept))
            return await _reply(reader, report, scope, window, args.against)

        # Prometheus is asked, and the chart drawn, with no transaction open.
        return outside_reply(answer)


async def _reply(
    reader: DependencyHealthReader,
    report: DependencyReport,
    scope: str,
    window: timedelta,
    against: str,
) -> Reply:
    if not report.edges:
        if report.problem:
            raise NotFoundError(report.problem)
        return Reply.text(
            f"Prometheus has no service-graph metrics for {scope} in the last "
            f"{span_text(window)} (it reads "
            + " and ".join(SOURCES[s] for s in reader.rules.sources)
            + ")."
        )
    records = [edge.record() for edge in report.edges]
    counts = {status: sum(r["status"] == status for r in records) for status in MARKS}
    summary = ", ".join(f"{MARKS[s]} {n} {s}" for s, n in counts.items() if n)
    quantile = f"p{reader.rules.quantile * 100:g}"
    title = f"{scope[0].upper()}{scope[1:]}, last {span_text(window)} against {BASELINES[against]}"
    blocks: list[Block] = [
        Text(f"**Dependency health: {title}**\n{summary}"),
        health_table(records, quantile=quantile),
    ]
    chart = await asyncio.to_thread(health_chart, records, title=f"{quantile}/errors/requests")
    if chart is not None:
        blocks.append(chart)
    if report.total > len(records):
        blocks.append(Context(f"…and {report.total - len(records)} more calls, healthier ones."))
    fallback = sorted({r["baseline_label"] for r in records} - {BASELINES[against]})
    if fallback:
        blocks.append(
            Context("Some calls had no traffic then; compared with: " + ", ".join(fallback) + ".")
        )
    rules = reader.rules
    blocks.append(
        Context(
            "From "
            + " and ".join(SOURCES[s] for s in report.sources or rules.sources)
            + f". Failing: errors ≥ {rules.errors_failing_above * 100:g} % and "
            f"{rules.error_factor:g}× the baseline, or {quantile} "
            f"{rules.latency_failing_factor:g}×; degraded: errors ≥ "
            f"{rules.errors_degraded_above * 100:g} % and "
            f"{rules.error_factor:g}×, {quantile} {rules.latency_factor:g}×, traffic "
            f"−{rules.traffic_drop * 100:g} % or {rules.traffic_surge:g}×."
        )
    )
    if report.problem:
        blocks.append(Context(report.problem))
    return Reply(blocks=blocks)
