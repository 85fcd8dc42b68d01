"""`metrics <promql> [--since 1h]`: a small table and a PNG sparkline of a PromQL range
query; `metrics <service> --compare 1d|1w`: the service's golden signals now against the same
window a day or a week earlier.

With projects configured, a person who is not a member of every project may query only the
services of their projects: each selector of their query must name one
(`core.promql_scope`), and `--compare` takes only such a service."""

from __future__ import annotations

import asyncio
import math
import re
import statistics
from datetime import datetime, timedelta
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from core.metric_evidence import render
from core.promql_scope import PromQLError, read_scope
from integrations.evidence import MetricEvidenceReader
from integrations.prometheus import PrometheusError, Series
from skills.context import Answer, SkillContext, outside_reply
from skills.contract import Block, Context, Image, Reply, Table, Text
from skills.errors import NotFoundError, UsageError
from skills.evidence_text import value_text
from skills.grammar import Positional
from skills.lookups import sees_every_project, sees_service
from skills.prometheus_text import prometheus_sentence
from skills.registry import Skill
from skills.spans import Span, span_text
from skills.views.sparkline import sparkline_png

NO_PROMETHEUS = "Lookout reads metrics from Prometheus: set PROMETHEUS_URL to use `metrics`."
MAX_ROWS = 10
SERVICE = re.compile(r"[\w.:/-]{1,255}")


class MetricsArgs(BaseModel):
    query: Annotated[str, Positional(rest=True, raw=True)] = Field(
        min_length=1, max_length=2000, description="PromQL, or a service with --compare"
    )
    since: Span = Field(default=timedelta(hours=1), description="how far back: 15m, 1h, 1d")
    compare: Literal["1d", "1w"] | None = Field(
        default=None, description="golden signals now against 1d or 1w ago"
    )


class MetricsSkill(Skill[MetricsArgs]):
    verb = "metrics"
    aliases = ("metric", "promql")
    summary = "A PromQL range query as a table and sparkline, or a service's golden signals."
    args_model = MetricsArgs

    async def handle(self, ctx: SkillContext, args: MetricsArgs) -> Answer:
        reader = ctx.tools.metrics
        if reader is None:
            raise NotFoundError(NO_PROMETHEUS)
        now = ctx.now
        if args.compare:
            service = args.query.strip()
            if not SERVICE.fullmatch(service):
                raise UsageError("`--compare` takes a service: `metrics checkout --compare 1d`.")
            if not sees_service(ctx, service):  # another project's service
                raise NotFoundError(f"There is no service {service} you can see.")
            return outside_reply(lambda: _compare(reader, service, args, now))
        if not sees_every_project(ctx):
            _check_scope(ctx, args.query)
        return outside_reply(lambda: _range(reader, args, now))


def _check_scope(ctx: SkillContext, query: str) -> None:
    """Refuse a query that reads services outside the actor's projects. Raises UsageError
    (unparsable, or a selector naming no service) or NotFoundError (another's service)."""
    labels = ctx.tools.service_labels
    try:
        scope = read_scope(query, labels)
    except PromQLError as error:
        raise UsageError(
            f"That is not PromQL ({error}); check the expression, e.g. "
            "`sum(rate(http_requests_total[5m]))`."
        ) from None
    if scope.unpinned:
        selector = scope.unpinned[0][:80]
        example = f'{selector}{{{labels[0]}="<service>"}}' if selector.isidentifier() else ""
        raise UsageError(
            f"`{selector}` reads every project's series: name one of your services in each "
            f"selector{f', e.g. `{example}`' if example else ''}."
        )
    for service in sorted(scope.services):
        if not sees_service(ctx, service):
            raise NotFoundError(f"There is no service {service} you can see.")


async def _range(reader: MetricEvidenceReader, args: MetricsArgs, now: datetime) -> Reply:
    try:
        series = await reader.range(args.query, start=now - args.since, end=now)
    except (PrometheusError, TimeoutError) as error:
        raise NotFoundError(prometheus_sentence(error)) from None
    if not series:
        return Reply.text(f"`{args.query}` returned no series in the last {span_text(args.since)}.")
    rows = tuple(_row(item) for item in series[:MAX_ROWS])
    png = await asyncio.to_thread(
        sparkline_png, [(_name(s), s.points) for s in series[:6]], title=args.query[:80]
    )
    blocks: list[Block] = [
        Text(f"**`{args.query[:200]}`**, last {span_text(args.since)}"),
        Table(columns=("Series", "Last", "Min", "Max"), rows=rows),
        Image(png=png, alt=f"{len(series)} series of {args.query[:80]}"),
    ]
    if len(series) > MAX_ROWS:
        blocks.append(Context(f"…and {len(series) - MAX_ROWS} more series."))
    return Reply(blocks=blocks)


async def _compare(
    reader: MetricEvidenceReader, service: str, args: MetricsArgs, now: datetime
) -> Reply:
    offset = timedelta(days=1 if args.compare == "1d" else 7)
    queries = reader.rules.queries
    windows = [(now - args.since, now), (now - args.since - offset, now - offset)]
    jobs = [(render(query.expr, service), window) for query in queries for window in windows]
    try:
        answers = await reader.ranges(jobs)
    except (PrometheusError, TimeoutError) as error:
        raise NotFoundError(
            prometheus_sentence(error, configured="the golden-signal queries (`signals:`)")
        ) from None
    rows = []
    for index, query in enumerate(queries):
        current, before = _mean(answers[2 * index]), _mean(answers[2 * index + 1])
        change = "—"
        if math.isfinite(current) and math.isfinite(before) and before:
            change = f"{(current - before) / abs(before) * 100:+.0f} %"
        rows.append(
            (query.name, value_text(current, query.unit), value_text(before, query.unit), change)
        )
    if all(row[1] == "—" and row[2] == "—" for row in rows):
        return Reply.text(
            f"Prometheus has no golden signals for `{service}` now or {args.compare} ago; "
            "check the service's name or the `signals:` queries."
        )
    title = (
        f"**{service}: golden signals, last {span_text(args.since)} against {args.compare} ago**"
    )
    return Reply(
        blocks=[
            Text(title),
            Table(columns=("Signal", "Now", f"{args.compare} ago", "Change"), rows=tuple(rows)),
        ]
    )


def _mean(series: list[Series]) -> float:
    values = [v for s in series[:1] for _, v in s.points if math.isfinite(v)]
    return statistics.fmean(values) if values else math.nan


def _name(series: Series) -> str:
    labels = {k: v for k, v in series.labels.items() if k != "__name__"}
    inner = ", ".join(f"{k}={v}" for k, v in sorted(labels.items()))
    return (series.labels.get("__name__", "") + (f"{{{inner}}}" if inner else "")) or "value"


def _row(series: Series) -> tuple[str, str, str, str]:
    values = [v for _, v in series.points if math.isfinite(v)]
    if not values:
        return (_name(series), "—", "—", "—")
    return (_name(series), f"{values[-1]:.4g}", f"{min(values):.4g}", f"{max(values):.4g}")
