"""`capacity [service] [--growth 2%/d]` and `capacity report`: when each resource reaches
80 / 90 / 100 % of its limit, from a trend-and-seasonality forecast of its Prometheus
history (see `core.capacity`). The report sorts resources into critical (< 7 days to the
alert level), warning (< 30) and healthy, draws each critical one, and lists
over-provisioned resources (p95 usage far below what was reserved)."""

from __future__ import annotations

import asyncio
import re
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field, field_validator

from core.capacity_rules import CapacityResource
from core.wording import plural
from integrations.capacity import CapacityReader, CapacityReading
from integrations.prometheus import PrometheusError
from skills.commands.slo import PrometheusUnavailableError
from skills.context import Answer, SkillContext, outside_reply
from skills.contract import Block, Context, Image, Reply, Table, Text
from skills.errors import NotFoundError
from skills.formatting import duration
from skills.grammar import Positional
from skills.lookups import sees_service
from skills.prometheus_text import prometheus_sentence
from skills.registry import Skill

NO_RESOURCES = (
    "No resources are configured: list them under `capacity: {resources: [...]}` in "
    "LOOKOUT_CONFIG and set PROMETHEUS_URL."
)
GROWTH = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*%\s*/\s*(d|day|w|week)\s*$", re.IGNORECASE)
MARKS = {"critical": "🔴", "warning": "🟠", "healthy": "🟢", "unknown": "⚪"}
MAX_CHARTS = 5


def parse_growth(text: str) -> float:
    """`2%/d` → 0.02 per day; `7%/w` → the daily rate that compounds to 7 % a week.
    Raises ValueError for anything else."""
    match = GROWTH.match(text)
    if match is None:
        raise ValueError("growth looks like `2%/d` or `10%/w`")
    rate = float(match[1]) / 100
    if rate <= -1:
        raise ValueError("growth must be above -100 %")
    return rate if match[2].lower().startswith("d") else (1 + rate) ** (1 / 7) - 1


class CapacityArgs(BaseModel):
    service: Annotated[str | None, Positional()] = Field(
        default=None, max_length=255, description="a service or resource, or `report`"
    )
    growth: str | None = Field(default=None, description="extra demand growth, e.g. 2%/d")

    @field_validator("growth")
    @classmethod
    def _growth(cls, value: str | None) -> str | None:
        if value is not None:
            parse_growth(value)
        return value


class CapacitySkill(Skill[CapacityArgs]):
    verb = "capacity"
    summary = "When resources run out: forecasts to 80/90/100 % of their limits."
    args_model = CapacityArgs

    async def handle(self, ctx: SkillContext, args: CapacityArgs) -> Answer:
        reader = ctx.tools.capacity
        if reader is None or not reader.resources:
            raise NotFoundError(NO_RESOURCES)
        report = args.service == "report"
        # With projects configured, only the resources of services of the actor's projects.
        resources = [r for r in reader.resources if sees_service(ctx, r.service)]
        if not resources:
            raise NotFoundError(NO_RESOURCES)
        if args.service and not report:
            resources = [r for r in resources if args.service in (r.service, r.name)]
            if not resources:
                raise NotFoundError(f"No capacity resources for `{args.service}`.")
        growth = parse_growth(args.growth) if args.growth else 0.0
        now = ctx.now
        # Prometheus is asked, and the forecasts drawn, with no transaction open.
        return outside_reply(
            lambda: _answer(reader, resources, args, report=report, growth=growth, now=now)
        )


async def _answer(
    reader: CapacityReader,
    resources: list[CapacityResource],
    args: CapacityArgs,
    *,
    report: bool,
    growth: float,
    now: datetime,
) -> Reply:
    try:
        readings = await asyncio.gather(
            *(reader.read(r, now=now, growth_per_day=growth) for r in resources)
        )
    except (PrometheusError, TimeoutError) as error:
        raise PrometheusUnavailableError(
            prometheus_sentence(
                error, configured="the capacity queries", missing="capacity forecasts"
            )
        ) from None
    order = {"critical": 0, "warning": 1, "unknown": 2, "healthy": 3}
    readings.sort(key=lambda r: (order[r.status], r.resource.name))
    blocks: list[Block] = [Text(_title(args, report, readings, growth))]
    blocks.append(_table(readings, reader, now))
    if report:
        blocks += await _report_blocks(readings, reader)
    for reading in readings:
        if reading.problem:
            blocks.append(Context(f"{reading.resource.name}: {reading.problem}"))
    if not report and len(readings) == 1 and readings[0].forecast is not None:
        png = await asyncio.to_thread(_chart, readings[0], reader)
        blocks.append(Image(png=png, alt=f"Usage and forecast of {readings[0].resource.name}"))
    method = next((r.forecast.method for r in readings if r.forecast), None)
    blocks.append(
        Context(
            f"Forecast over {plural(reader.rules.horizon_days, 'day')} from "
            f"{plural(reader.rules.lookback_days, 'day')} of history"
            + (f" ({method}, 90 % interval)" if method else "")
            + (f"; with {args.growth} extra growth" if growth else "")
            + "."
        )
    )
    return Reply(blocks=blocks, visibility="channel" if report else "thread")


def _title(args: CapacityArgs, report: bool, readings: list[CapacityReading], growth: float) -> str:
    if report:
        counts = {status: 0 for status in MARKS}
        for reading in readings:
            counts[reading.status] += 1
        return (
            f"**Capacity report** — {counts['critical']} critical, {counts['warning']} warning, "
            f"{counts['healthy']} healthy"
            + (f", {counts['unknown']} unknown" if counts["unknown"] else "")
        )
    scope = f" of {args.service}" if args.service else ""
    return f"**Capacity{scope}**" + (f" (what if demand grows {args.growth})" if growth else "")


def _table(readings: list[CapacityReading], reader: CapacityReader, now: datetime) -> Table:
    levels = reader.rules.levels
    rows = []
    for reading in readings:
        share = reading.share
        cells = [
            f"{MARKS[reading.status]} {reading.resource.name}",
            reading.resource.service or "—",
            "—" if share is None else f"{share * 100:.1f} %",
        ]
        for level in levels:
            crossing = reading.crossing(level)
            cells.append(_when(crossing.at if crossing else None, now))
        rows.append(tuple(cells))
    return Table(
        columns=("Resource", "Service", "Now", *(f"{level * 100:g} %" for level in levels)),
        rows=tuple(rows),
    )


async def _report_blocks(readings: list[CapacityReading], reader: CapacityReader) -> list[Block]:
    blocks: list[Block] = []
    critical = [r for r in readings if r.status == "critical" and r.forecast is not None]
    for reading in critical[:MAX_CHARTS]:
        png = await asyncio.to_thread(_chart, reading, reader)
        blocks.append(Image(png=png, alt=f"Usage and forecast of {reading.resource.name}"))
    threshold = reader.rules.overprovisioned_below
    over = [
        (r, share)
        for r in readings
        if (share := r.p95_share_of_request) is not None and share < threshold
    ]
    if over:
        blocks.append(
            Text(
                f"**Over-provisioned** (p95 usage under {threshold * 100:g} % of what is "
                "reserved):\n"
                + "\n".join(
                    f"• {r.resource.name}: p95 {share * 100:.0f} % of {_number(r.request)}"
                    for r, share in over
                )
            )
        )
    return blocks


def _chart(reading: CapacityReading, reader: CapacityReader) -> bytes:
    from skills.views.report_charts import render_capacity_png

    return render_capacity_png(
        reading.times,
        reading.usage,
        reading.forecast,
        limit=reading.limit,
        levels=reader.rules.levels,
        title=f"{reading.resource.name}: usage and forecast (% of limit)",
    )


def _when(at: float | None, now: datetime) -> str:
    if at is None:
        return "—"
    left = at - now.timestamp()
    if left <= 0:
        return "reached"
    from datetime import timedelta

    return "~" + duration(timedelta(seconds=left))


def _number(value: float) -> str:
    for unit, size in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(value) >= size:
            return f"{value / size:.1f}{unit}"
    return f"{value:g}"
