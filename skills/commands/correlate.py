"""`correlate [incident]`: an incident's context in one reply, kept with the incident.

Related changes (scored by `core.change_correlation`), the golden signals that moved around
the incident's start (robust z, `core.metric_evidence`), the root-cause ranking with that
metric evidence added to the alerts' (`core.root_cause`), the health of the calls its
services make against the hour before (service-graph metrics), the error-log patterns of its
services ±5 min around the start (Drain templates), and similar past incidents — each with
its score — and one confidence for the leading explanation (see `skills.incident_context`).
Prometheus and Loki forget, so the snapshot is stored with the incident; `show` repeats it.

The database is read first; Prometheus, Loki and the index are asked with no transaction
open; the snapshot is stored in a fresh one.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BaseModel, Field

from skills.commands.retrieval import reader_of
from skills.context import Answer, Outside, SkillContext
from skills.contract import Image, Reply
from skills.grammar import Positional
from skills.incident_context import gather, observe, snapshot
from skills.lookups import load_incident
from skills.registry import Skill
from skills.views.context_card import context_chart, snapshot_blocks


class CorrelateArgs(BaseModel):
    incident: Annotated[str | None, Positional(incident=True)] = Field(
        default=None, description="incident id (INC-42); defaults to the thread's incident"
    )


@dataclass(frozen=True)
class _Found:
    snapshot: dict[str, Any]
    chart: Image | None


class CorrelateSkill(Skill[CorrelateArgs]):
    verb = "correlate"
    aliases = ("context",)
    summary = "Changes, moving metrics, dependency health, log patterns and precedents."
    args_model = CorrelateArgs

    async def handle(self, ctx: SkillContext, args: CorrelateArgs) -> Answer:
        incident = await load_incident(ctx, args.incident)
        inputs = await gather(
            reader_of(ctx),
            ctx.changes,
            incident,
            topology=ctx.topology,
            knowledge=ctx.tools.knowledge,
            projects=ctx.access.visible,
        )
        tools, now = ctx.tools, ctx.now

        async def ask() -> _Found:
            live = await observe(inputs, tools, now=now)
            found = snapshot(inputs, live, now=now)
            # Drawing takes a moment of CPU: in a worker thread.
            return _Found(found, await asyncio.to_thread(context_chart, found))

        async def store(ctx: SkillContext, found: _Found) -> Answer:
            await ctx.contexts.add(
                incident_id=inputs.incident_id,
                snapshot=found.snapshot,
                requested_by=ctx.actor.display_name,
                now=ctx.now,
            )
            blocks = snapshot_blocks(found.snapshot)
            if found.chart is not None:
                blocks.insert(-1, found.chart)
            return Reply(blocks=blocks, incident_id=inputs.incident_id)

        # Prometheus, Loki and the index answer with no transaction open.
        return Outside(call=ask, then=store)
