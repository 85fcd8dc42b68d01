"""`stats report`: the week in incidents against the week before — how many, MTTA and MTTR
p50/p90, alerts per incident, the noisiest alerts and services."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

from core.incident_stats import IncidentTimes, ResponseStats, Spread, response_stats
from skills.context import SkillContext
from skills.contract import Block, Context, Reply, Table, Text
from skills.formatting import duration

WEEK = timedelta(days=7)
TOP = 5


async def weekly_report(ctx: SkillContext) -> Reply:
    this_week = await _week(ctx, ctx.now - WEEK, ctx.now)
    last_week = await _week(ctx, ctx.now - 2 * WEEK, ctx.now - WEEK)
    start = (ctx.now - WEEK).strftime("%Y-%m-%d")
    blocks: list[Block] = [
        Text(f"**Weekly incident report** — {start} to {ctx.now.strftime('%Y-%m-%d')}"),
        Table(
            columns=("", "This week", "Last week", "Change"),
            rows=(
                _row("Incidents", this_week.incidents, last_week.incidents),
                _row("Alerts", this_week.alerts, last_week.alerts),
                (
                    "Alerts per incident",
                    f"{this_week.alerts_per_incident:.1f}",
                    f"{last_week.alerts_per_incident:.1f}",
                    _change(this_week.alerts_per_incident, last_week.alerts_per_incident),
                ),
                _spread_row("MTTA p50", this_week.mtta, last_week.mtta, "p50"),
                _spread_row("MTTA p90", this_week.mtta, last_week.mtta, "p90"),
                _spread_row("MTTR p50", this_week.mttr, last_week.mttr, "p50"),
                _spread_row("MTTR p90", this_week.mttr, last_week.mttr, "p90"),
            ),
        ),
    ]
    noisiest = await ctx.alerts.noisiest(
        since=ctx.now - WEEK, until=ctx.now, limit=TOP, projects=ctx.access.visible
    )
    if noisiest:
        blocks.append(
            Table(
                columns=("Noisiest alerts", "Service", "Alerts"),
                rows=tuple((name, service or "—", str(count)) for name, service, count in noisiest),
            )
        )
    rows = await ctx.incidents.created_between(since=ctx.now - WEEK, until=ctx.now)
    if rows:
        counts = await ctx.alerts.counts(incident_ids=[row.id for row in rows])
        by_service: Counter[str] = Counter()
        alerts_of: Counter[str] = Counter()
        for row in rows:
            by_service[row.service] += 1
            alerts_of[row.service] += counts[row.id]
        blocks.append(
            Table(
                columns=("Noisiest services", "Incidents", "Alerts"),
                rows=tuple(
                    (name, str(n), str(alerts_of[name]))
                    for name, n in sorted(by_service.items(), key=lambda i: (-i[1], i[0]))[:TOP]
                ),
            )
        )
    blocks.append(Context("MTTA: opened → acknowledged; MTTR: opened → resolved; weeks end now."))
    return Reply(blocks=blocks, visibility="channel")


async def _week(ctx: SkillContext, since: datetime, until: datetime) -> ResponseStats:
    rows = await ctx.incidents.created_between(since=since, until=until)
    counts = await ctx.alerts.counts(incident_ids=[row.id for row in rows])
    return response_stats(
        [
            IncidentTimes(row.created_at, row.acknowledged_at, row.resolved_at, counts[row.id])
            for row in rows
        ]
    )


def _row(label: str, now: int, before: int) -> tuple[str, str, str, str]:
    return (label, str(now), str(before), _change(now, before))


def _change(now: float, before: float) -> str:
    if before == 0:
        return "—" if now == 0 else "new"
    return f"{(now - before) / before * 100:+.0f} %"


def _spread_row(label: str, now: Spread, before: Spread, which: str) -> tuple[str, str, str, str]:
    a, b = getattr(now, which), getattr(before, which)
    change = "—"
    if a is not None and b is not None and b.total_seconds() > 0:
        change = _change(a.total_seconds(), b.total_seconds())
    return (label, _time(a), _time(b), change)


def _time(span: timedelta | None) -> str:
    return "—" if span is None else duration(span)
