"""`stats [--days 30] [--service S]`: how fast incidents are taken and fixed, and how much
noise grouping saved — MTTA and MTTR percentiles, alerts per incident.

Response times are per episode: an incident that reopened was taken and fixed twice, and each
time counts from that opening. Episodes nobody responded to (merged into another incident,
split off already resolved) are left out.

`stats report` is the weekly report (`skills.commands.stats_report`)."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from core.incident_stats import IncidentTimes, ResponseStats, Spread, response_stats
from core.wording import plural
from skills.commands.stats_report import weekly_report
from skills.context import SkillContext
from skills.contract import Block, Context, Fields, Reply, Table, Text
from skills.formatting import duration
from skills.grammar import Positional
from skills.registry import Skill

TOP_SERVICES = 10


class StatsArgs(BaseModel):
    report: Annotated[Literal["report"] | None, Positional()] = Field(
        default=None, description="`report`: this week against the last"
    )
    days: int = Field(default=30, ge=1, le=365, description="how many days back")
    service: str | None = Field(default=None, max_length=255, description="only this service")


class StatsSkill(Skill[StatsArgs]):
    verb = "stats"
    aliases = ("mttr", "mtta")
    summary = "MTTA and MTTR percentiles and alerts per incident over the last days."
    args_model = StatsArgs

    async def handle(self, ctx: SkillContext, args: StatsArgs) -> Reply:
        if args.report:
            return await weekly_report(ctx)
        since = ctx.now - timedelta(days=args.days)
        services = (args.service,) if args.service else ()
        episodes = await ctx.episodes.opened_between(
            since=since, until=ctx.now, services=services, projects=ctx.access.visible
        )
        scope = f"last {plural(args.days, 'day')}" + (f", {args.service}" if args.service else "")
        if not episodes:
            return Reply.text(f"No incidents in the {scope}.")
        counts = await ctx.alerts.counts(incident_ids=[item.incident_id for item in episodes])
        first_of: set[int] = set()
        times: list[tuple[str, IncidentTimes]] = []
        for item in episodes:
            # Alerts count once per incident, with its first episode in the window.
            alerts = 0 if item.incident_id in first_of else counts[item.incident_id]
            first_of.add(item.incident_id)
            times.append(
                (
                    item.service,
                    IncidentTimes(
                        item.opened_at,
                        item.acknowledged_at,
                        item.resolved_at,
                        alerts,
                        incident_id=item.incident_id,
                    ),
                )
            )
        overall = response_stats([t for _, t in times])
        blocks: list[Block] = [Text(f"**Incident response, {scope}**"), _fields(overall)]
        by_service: dict[str, list[IncidentTimes]] = defaultdict(list)
        for service, item_times in times:
            by_service[service].append(item_times)
        if not args.service and len(by_service) > 1:
            ranked = sorted(by_service.items(), key=lambda item: (-len(item[1]), item[0]))
            blocks.append(
                Table(
                    columns=("Service", "Incidents", "Alerts", "MTTA p50", "MTTR p50"),
                    rows=tuple(
                        (
                            name,
                            str(stats.incidents),
                            str(stats.alerts),
                            _time(stats.mtta.p50),
                            _time(stats.mttr.p50),
                        )
                        for name, items in ranked[:TOP_SERVICES]
                        for stats in (response_stats(items),)
                    ),
                )
            )
        blocks.append(
            Context(
                "MTTA: opened → acknowledged; MTTR: opened → resolved, per opening (a "
                "reopened incident counts each time); merged incidents count in the one they "
                "joined."
            )
        )
        return Reply(blocks=blocks)


def _fields(stats: ResponseStats) -> Fields:
    return Fields(
        (
            ("Incidents", _incidents(stats)),
            ("Alerts", str(stats.alerts)),
            ("Alerts per incident", f"{stats.alerts_per_incident:.1f}"),
            ("Noise reduction", f"{stats.noise_reduction:.0%}"),
            ("MTTA p50 / p90", _spread(stats.mtta, "acknowledged")),
            ("MTTR p50 / p90", _spread(stats.mttr, "resolved")),
        )
    )


def _incidents(stats: ResponseStats) -> str:
    reopened = stats.episodes - stats.incidents
    return str(stats.incidents) + (f" ({reopened} reopened)" if reopened else "")


def _spread(spread: Spread, done: str) -> str:
    if not spread.count:
        return f"— (none {done})"
    return f"{_time(spread.p50)} / {_time(spread.p90)} ({spread.count} {done})"


def _time(span: timedelta | None) -> str:
    return "—" if span is None else duration(span)
