"""`logs <service> [--since 15m]`: the service's error-log patterns (Drain templates) with
counts, first seen and one example (stack traces folded, secrets redacted); `logs --trace
<id>`: every line carrying that trace or correlation id, across services, as one timeline
(with projects, only the lines of services of one's projects, unless one is in every one)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Annotated

from pydantic import BaseModel, Field

from core.log_lines import first_line, redact
from core.wording import plural
from integrations.evidence import LogEvidenceReader
from knowledge.log_patterns import mine
from skills.context import Answer, SkillContext, outside_reply
from skills.contract import Block, Context, Reply, Table, Text
from skills.errors import NotFoundError, UsageError
from skills.formatting import clock_time
from skills.grammar import Positional
from skills.lookups import sees_every_project, sees_service
from skills.registry import Skill
from skills.spans import Span, span_text

MAX_PATTERNS = 10
MAX_TRACE_LINES = 40
NO_LOKI = "Lookout reads logs from Loki: set LOKI_URL to use `logs`."


class LogsArgs(BaseModel):
    service: Annotated[str | None, Positional()] = Field(
        default=None, max_length=255, description="the service"
    )
    since: Span = Field(default=timedelta(minutes=15), description="how far back: 15m, 1h")
    trace: str | None = Field(
        default=None, max_length=128, description="a trace or correlation id to follow"
    )


class LogsSkill(Skill[LogsArgs]):
    verb = "logs"
    aliases = ("log",)
    summary = "A service's error-log patterns, or every line of one trace id."
    args_model = LogsArgs

    async def handle(self, ctx: SkillContext, args: LogsArgs) -> Answer:
        reader = ctx.tools.logs
        if reader is None:
            raise NotFoundError(NO_LOKI)
        start, end = ctx.now - args.since, ctx.now
        if args.trace:
            trace = args.trace
            every = sees_every_project(ctx)

            def shown(service: str | None) -> bool:
                # A line naming no service could be anyone's: only for members of every project.
                return every or (service is not None and sees_service(ctx, service))

            return outside_reply(lambda: _trace(reader, trace, args, start, end, shown))
        if not args.service:
            raise UsageError(
                "Which service? `logs <service> [--since 15m]` or `logs --trace <id>`."
            )
        service = args.service
        if not sees_service(ctx, service):  # another project's service
            raise NotFoundError(f"There is no service {service} you can see.")
        return outside_reply(lambda: _patterns(reader, service, args, start, end))


async def _trace(
    reader: LogEvidenceReader,
    trace: str,
    args: LogsArgs,
    start: datetime,
    end: datetime,
    shown: Callable[[str | None], bool],
) -> Reply:
    report = await reader.trace(trace, start, end)
    if report.problem and not report.lines:
        raise NotFoundError(report.problem)
    lines = [line for line in report.lines if shown(line.service)]
    if not lines:
        return Reply.text(f"No line carries `{trace}` in the last {span_text(args.since)}.")
    rows = tuple(
        (clock_time(line.at, end), line.service or "—", redact(first_line(line.text, 200)))
        for line in lines[:MAX_TRACE_LINES]
    )
    services = sorted({line.service for line in lines if line.service})
    blocks: list[Block] = [
        Text(
            f"**Trace `{trace}`**: {plural(len(lines), 'line')} across "
            + (", ".join(services) or "one stream")
        ),
        Table(columns=("Time", "Service", "Line"), rows=rows),
    ]
    if len(lines) > MAX_TRACE_LINES:
        blocks.append(Context(f"…and {len(lines) - MAX_TRACE_LINES} more lines."))
    if len(lines) < len(report.lines):
        blocks.append(Context("Lines of services outside your projects are left out."))
    return Reply(blocks=blocks)


async def _patterns(
    reader: LogEvidenceReader, service: str, args: LogsArgs, start: datetime, end: datetime
) -> Reply:
    report = await reader.errors([service], start, end)
    if report.problem and not report.lines:
        raise NotFoundError(report.problem)
    scope = f"{service}, last {span_text(args.since)}"
    if not report.lines:
        return Reply.text(f"No error lines for {scope}.")
    # Mining thousands of lines takes CPU: keep the event loop free meanwhile.
    patterns = await asyncio.to_thread(mine, report.lines)
    pattern_rows = tuple(
        (str(p.count), clock_time(p.first_seen, end), p.template[:160], p.example[:200])
        for p in patterns[:MAX_PATTERNS]
    )
    blocks: list[Block] = [
        Text(
            f"**Error-log patterns, {scope}**: {plural(len(report.lines), 'line')}, "
            f"{plural(len(patterns), 'pattern')}"
        ),
        Table(columns=("Count", "First seen", "Pattern", "Example"), rows=pattern_rows),
    ]
    if report.problem:
        blocks.append(Context(report.problem))
    return Reply(blocks=blocks)
