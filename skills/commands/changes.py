"""`changes [--service S] [--since 2h]`: what changed lately — deploys, config pushes, flags,
scaling and manual steps — newest first; in an incident's thread, scored against it."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, Field

from core.change_correlation import CLOCK_SKEW, WINDOW, ScoredChange, score_changes
from core.changes import ChangeEvent
from skills.context import SkillContext
from skills.contract import Block, Context, Reply, Table, Text
from skills.formatting import age, clock_time
from skills.registry import Skill
from skills.spans import Span, span_text

MAX_ROWS = 25


class ChangesArgs(BaseModel):
    service: str | None = Field(default=None, max_length=255, description="only this service")
    since: Span = Field(default=timedelta(hours=2), description="how far back: 30m, 2h, 1d")


class ChangesSkill(Skill[ChangesArgs]):
    verb = "changes"
    aliases = ("deploys", "changelog")
    summary = "Recent deploys, config pushes, flags, scaling and manual changes."
    args_model = ChangesArgs

    async def handle(self, ctx: SkillContext, args: ChangesArgs) -> Reply:
        services = [args.service] if args.service else None
        found = await ctx.changes.between(
            since=ctx.now - args.since, until=ctx.now, services=services
        )
        scope = f"last {span_text(args.since)}" + (f", {args.service}" if args.service else "")
        if not found:
            return Reply.text(
                f"No changes recorded in the {scope}. Changes arrive through "
                "`POST /webhooks/changes` (or GitHub, Argo CD), or `change <service> <what>`."
            )
        blocks: list[Block] = [Text(f"**Changes, {scope}** ({len(found)})")]
        scores = await _scores(ctx, found)
        columns: tuple[str, ...] = ("When", "Change", "Kind", "Env", "By", "Source")
        if scores:
            columns += ("Score",)
        rows = []
        for event in found[:MAX_ROWS]:
            row: tuple[str, ...] = (
                f"{clock_time(event.landed_at, ctx.now)} ({age(event.landed_at, ctx.now)} ago)",
                _link(event),
                event.kind.value,
                event.environment or "—",
                event.author or "—",
                event.source,
            )
            if scores:
                scored = scores.get(event.id)
                row += (f"{scored.score:.2f}" if scored else "—",)
            rows.append(row)
        blocks.append(Table(columns=columns, rows=tuple(rows)))
        if len(found) > MAX_ROWS:
            blocks.append(Context(f"…and {len(found) - MAX_ROWS} more; narrow with --service."))
        if scores:
            blocks.append(
                Context("Score: how likely the change caused this thread's incident (0–1).")
            )
        return Reply(blocks=blocks)


def _link(event: ChangeEvent) -> str:
    what = event.what()
    if event.description:
        what += f" — {event.description[:80]}"
    return f"[{what}]({event.url})" if event.url else what


async def _scores(ctx: SkillContext, found: list[ChangeEvent]) -> dict[str, ScoredChange]:
    """In an incident's thread: each change's score against that incident."""
    incident_id = ctx.conversation.incident_id
    if incident_id is None:
        return {}
    incident = await ctx.incidents.get(incident_id=incident_id)
    if incident is None:
        return {}
    briefs = (await ctx.alerts.briefs(incident_ids=[incident.id]))[incident.id]
    services = {b.service for b in briefs if b.service} or {incident.service}
    first = incident.first_alert_at
    window = [
        c for c in found if first - WINDOW <= c.landed_at and c.started_at <= first + CLOCK_SKEW
    ]
    scored = score_changes(window, services=services, first_alert_at=first, topology=ctx.topology)
    return {item.change.id: item for item in scored}
