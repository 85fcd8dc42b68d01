"""`sla [report] [--month YYYY-MM]`: SLA compliance — per target, the share of episodes
acknowledged and resolved in time, the breaches and why, and the trend over the months
before. `sla` covers the month so far; `sla report` (what the monthly schedule posts) the
last full month."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from core.incidents import display_id
from core.sla import Compliance, EpisodeOutcome, compliance
from skills.context import SkillContext
from skills.contract import Context, Reply, Table, Text
from skills.errors import NotFoundError, UsageError
from skills.grammar import Positional
from skills.markup import literal
from skills.moments import when
from skills.registry import Skill

TREND_MONTHS = 3
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


class SlaArgs(BaseModel):
    report: Annotated[Literal["report"] | None, Positional()] = Field(
        default=None, description="`report` for the last full month"
    )
    month: str | None = Field(default=None, description="a month, YYYY-MM")


def month_start(year: int, month: int) -> datetime:
    return datetime(year, month, 1, tzinfo=UTC)


def shift(start: datetime, months: int) -> datetime:
    index = start.year * 12 + start.month - 1 + months
    return month_start(index // 12, index % 12 + 1)


def _percent(item: Compliance | None) -> str:
    if item is None or item.percent is None:
        return "—"
    return f"{item.percent:.1f} %"


class SlaSkill(Skill[SlaArgs]):
    verb = "sla"
    summary = "SLA compliance per target (MTTA, MTTR), breaches and why, trend; `sla report`."
    args_model = SlaArgs

    async def handle(self, ctx: SkillContext, args: SlaArgs) -> Reply:
        rules = ctx.tools.sla
        if rules is None or not rules.targets:
            raise NotFoundError(
                "No SLA targets are configured: add `sla.targets` to LOOKOUT_CONFIG, e.g. "
                "`- {severity: critical, mtta: 5m, mttr: 4h}`."
            )
        this_month = month_start(ctx.now.year, ctx.now.month)
        if args.month:
            match = _MONTH.match(args.month)
            if match is None or not 1 <= int(match[2]) <= 12:
                raise UsageError("Give the month as YYYY-MM, e.g. `--month 2026-11`.")
            since = month_start(int(match[1]), int(match[2]))
        elif args.report:
            since = shift(this_month, -1)
        else:
            since = this_month
        until = min(shift(since, 1), ctx.now)
        current = await self._compliance(ctx, since, until)
        history = [
            await self._compliance(ctx, shift(since, -k), shift(since, -k + 1))
            for k in range(TREND_MONTHS, 0, -1)
        ]
        keys = sorted({(c.target, c.clock) for c in current}, key=lambda k: (k[0], k[1]))
        rows = []
        for target, clock in keys:
            now_item = next(c for c in current if (c.target, c.clock) == (target, clock))
            trend = " → ".join(
                _percent(next((c for c in month if (c.target, c.clock) == (target, clock)), None))
                for month in history
            )
            limit = int(now_item.limit.total_seconds())
            rows.append(
                (
                    literal(target),
                    f"{clock.upper()} ≤ {limit // 60} min"
                    if limit >= 60
                    else f"{clock} ≤ {limit} s",
                    f"{now_item.met}/{now_item.judged}",
                    _percent(now_item),
                    trend,
                )
            )
        title = f"**SLA report — {since:%B %Y}**" + (" (so far)" if until < shift(since, 1) else "")
        blocks: list[Text | Table | Context] = [Text(title)]
        if rows:
            blocks.append(
                Table(
                    columns=(
                        "Target",
                        "Clock",
                        "Met",
                        "Compliance",
                        f"Previous {TREND_MONTHS} months",
                    ),
                    rows=tuple(rows),
                )
            )
        else:
            blocks.append(Text("No incident episode in this period has an SLA target."))
        breaches = []
        if ctx.escalations is not None:
            breaches = await ctx.escalations.breaches_between(
                since=since, until=until, projects=ctx.access.visible
            )
        if breaches:
            lines = [
                f"• {display_id(b.incident_id)} ({b.clock.upper()}, {literal(b.target)}, due "
                f"{when(b.due_at, ctx.now)}): {literal(b.reason)}"
                for b in breaches[:25]
            ]
            more = f"\n…and {len(breaches) - 25} more" if len(breaches) > 25 else ""
            blocks.append(Text(f"**Breaches ({len(breaches)})**\n" + "\n".join(lines) + more))
        else:
            blocks.append(Text("**Breaches**: none recorded."))
        blocks.append(
            Context(
                "Per episode, from its opening (a reopened incident is judged again); an "
                "episode still inside its target is not counted yet."
            )
        )
        return Reply(blocks=list(blocks))

    async def _compliance(
        self, ctx: SkillContext, since: datetime, until: datetime
    ) -> list[Compliance]:
        assert ctx.tools.sla is not None
        episodes = await ctx.episodes.opened_between(
            since=since, until=until, projects=ctx.access.visible
        )
        incidents = await ctx.incidents.get_many(incident_ids=[e.incident_id for e in episodes])
        outcomes = [
            EpisodeOutcome(
                incident_id=e.incident_id,
                number=e.number,
                severity=incidents[e.incident_id].severity,
                service=e.service,
                opened_at=e.opened_at,
                acknowledged_at=e.acknowledged_at,
                resolved_at=e.resolved_at,
            )
            for e in episodes
            if e.incident_id in incidents
        ]
        return compliance(ctx.tools.sla, outcomes, until=min(until, ctx.now))
