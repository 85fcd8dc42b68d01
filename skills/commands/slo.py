"""`slo [service]` and `slo report`: objective, SLI now, error budget left, burn rates, when
the budget runs out at the recent pace, and (in the report) a chart of the budget over the
SLO window. SLOs are the Sloth files listed under `slo: {files: […]}`; Prometheus answers."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Annotated

from pydantic import BaseModel, Field

from core.slo import WORKBOOK_RULES, Slo, promql_duration
from core.wording import plural
from integrations.prometheus import PrometheusError
from integrations.slo import SloReader, SloReading
from skills.context import Answer, SkillContext, outside_reply
from skills.contract import Block, Context, Fields, Image, Reply, Table, Text
from skills.errors import NotFoundError, UserError
from skills.grammar import Positional
from skills.lookups import sees_service
from skills.prometheus_text import prometheus_sentence
from skills.registry import Skill

NO_SLOS = (
    "No SLOs are configured: list Sloth files under `slo: {files: [...]}` in LOOKOUT_CONFIG "
    "and set PROMETHEUS_URL."
)


class PrometheusUnavailableError(UserError):
    outcome = "unavailable"


class SloArgs(BaseModel):
    service: Annotated[str | None, Positional()] = Field(
        default=None, max_length=255, description="a service, or `report` for the full report"
    )


class SloSkill(Skill[SloArgs]):
    verb = "slo"
    aliases = ("slos",)
    summary = "SLOs: SLI, error budget left, burn rates, when the budget runs out."
    args_model = SloArgs

    async def handle(self, ctx: SkillContext, args: SloArgs) -> Answer:
        reader = ctx.tools.slo
        if reader is None or not reader.slos:
            raise NotFoundError(NO_SLOS)
        report = args.service == "report"
        # With projects configured, only the SLOs of services of the actor's projects.
        slos = [slo for slo in reader.slos if sees_service(ctx, slo.service)]
        if not slos:
            raise NotFoundError(NO_SLOS)
        if args.service and not report:
            known = ", ".join(f"`{name}`" for name in sorted({slo.service for slo in slos}))
            slos = [slo for slo in slos if slo.service == args.service]
            if not slos:
                raise NotFoundError(f"No SLOs for `{args.service}`; SLOs exist for {known}.")
        now = ctx.now
        # Prometheus is asked, and the report drawn, with no transaction open.
        return outside_reply(lambda: _answer(reader, slos, args, report=report, now=now))


async def _answer(
    reader: SloReader, slos: list[Slo], args: SloArgs, *, report: bool, now: datetime
) -> Reply:
    try:
        readings = await asyncio.gather(*(reader.read(slo, now=now, curve=report) for slo in slos))
    except (PrometheusError, TimeoutError) as error:
        raise PrometheusUnavailableError(
            prometheus_sentence(error, configured="the SLO queries", missing="SLO readings")
        ) from None
    title = (
        "**SLO report**"
        if report
        else "**SLOs" + (f" of {args.service}**" if args.service else "**")
    )
    blocks: list[Block] = [Text(f"{title} — {reader.window.days}-day window")]
    blocks.append(_table(readings, reader))
    for reading in readings:
        blocks += await _details(reading, report=report, now=now)
    blocks.append(
        Context(
            "Burn rate: error ratio ÷ error budget (1× spends the budget exactly over the "
            "window). Alerts: Google SRE Workbook ch. 5 multi-window rules ("
            + "; ".join(f"{r.severity} {r.describe()}" for r in WORKBOOK_RULES)
            + ")."
        )
    )
    return Reply(blocks=blocks, visibility="channel" if report else "thread")


def _table(readings: list[SloReading], reader: SloReader) -> Table:
    rows = []
    for reading in readings:
        budget = reading.budget
        rows.append(
            (
                f"{reading.slo.service} / {reading.slo.name}",
                f"{reading.slo.objective * 100:g} %",
                "—" if budget.sli is None else f"{budget.sli * 100:.3f} %",
                "—"
                if budget.budget_remaining is None
                else f"{budget.budget_remaining * 100:.1f} %",
                _burn(reading, timedelta(hours=1)),
                _burn(reading, timedelta(days=1)),
                _exhaustion(reading),
                _state(reading),
            )
        )
    return Table(
        columns=("SLO", "Objective", "SLI", "Budget left", "Burn 1h", "Burn 1d", "Exhausted", ""),
        rows=tuple(rows),
    )


async def _details(reading: SloReading, *, report: bool, now: datetime) -> list[Block]:
    blocks: list[Block] = []
    firing = [v for v in reading.verdicts if v.firing]
    guarded = [v for v in reading.verdicts if v.guarded and not v.firing]
    if firing:
        blocks.append(
            Text(
                f"🔥 **{reading.slo.key}** burning: "
                + "; ".join(
                    f"{v.rule.severity} ({v.rule.describe()}: {v.long_burn:.1f}× / "
                    f"{v.short_burn:.1f}×)"
                    for v in firing
                )
            )
        )
    if guarded:
        blocks.append(
            Context(
                f"{reading.slo.key}: burn above {guarded[0].rule.factor:g}× but too little "
                "traffic to alert (minimum-traffic guard)."
            )
        )
    if report and reading.curve is not None and reading.curve.times:
        png = await asyncio.to_thread(_chart, reading)
        blocks.append(Image(png=png, alt=f"Error budget of {reading.slo.key} over the window"))
    for problem in reading.problems:
        blocks.append(Context(f"{reading.slo.key}: Prometheus did not answer {problem}"))
    if not report:
        blocks.append(
            Fields(
                tuple(
                    (f"Burn {promql_duration(window)}", _burn(reading, window))
                    for window in sorted(reading.readings)
                    if window != reading.budget.window
                )
            )
        )
    return blocks


def _chart(reading: SloReading) -> bytes:
    from skills.views.report_charts import render_budget_png

    assert reading.curve is not None
    title = (
        f"{reading.slo.key}: error budget left over {plural(reading.budget.window.days, 'day')} "
        f"(objective {reading.slo.objective * 100:g} %)"
    )
    return render_budget_png(reading.curve.times, reading.curve.remaining, title=title)


def _burn(reading: SloReading, window: timedelta) -> str:
    value = reading.burn(window)
    return "—" if value is None else f"{value:.2f}×"


def _exhaustion(reading: SloReading) -> str:
    budget = reading.budget
    if budget.exhausted:
        return "now"
    if budget.exhausted_at is None:
        return "—"
    return f"{budget.exhausted_at:%Y-%m-%d}"


def _state(reading: SloReading) -> str:
    if any(v.firing and v.rule.severity == "page" for v in reading.verdicts):
        return "🔴 page"
    if any(v.firing for v in reading.verdicts):
        return "🟠 ticket"
    if reading.budget.exhausted:
        return "🔴 budget spent"
    return "🟢"
