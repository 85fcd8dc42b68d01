"""`blast-radius [service] [--what-if] [--incident INC-1]`: who is hurt when a service fails.

Every service that depends on it, transitively, with depth, tier, owning team and status
(the worse of the alerts firing in open incidents and, when PROMETHEUS_URL is set, the
`health:` queries), the summed users and revenue, and a picture of the affected subgraph
coloured by status. Without a service, in an incident's thread (or with `--incident`, or
an incident reference where the service goes: `blast-radius INC-4`), it answers for the
incident's probable root cause. Users and revenue the catalog does not give are unknown,
never zero.

On an open incident the answer is the picture and a pointer to a live tracker: one message
in the incident's thread with the dependents table and the propagation path (which service
failed after which, and when), edited in place as dependents degrade or recover (see
`skills.blast_tracker`). Asking again reuses it. `--what-if`, no incident, or a service
nothing depends on answers once.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field

from core.blast_radius import BlastRadius, UnknownServiceError, describe_propagation
from core.incident_summary import root_cause_from_record
from core.incidents import IncidentStatus, display_id, parse_incident_id
from core.topology import Topology
from integrations.service_health import HealthSnapshot
from skills.context import Answer, Outside, SkillContext
from skills.contract import Block, Context, Image, Reply, Text
from skills.errors import NotFoundError, UsageError
from skills.grammar import Positional
from skills.lookups import load_incident
from skills.moments import instants
from skills.registry import Skill
from skills.services import catalog, statuses
from skills.views.blast_tracker import LIVE_HINT, changed, snapshot
from skills.views.blast_view import (
    MAX_ROWS,
    BlastView,
    blast_view,
    dependents_blocks,
    failed_at,
    row_of,
)
from storage.models import IncidentRow


class BlastRadiusArgs(BaseModel):
    service: Annotated[str | None, Positional()] = Field(
        default=None,
        max_length=255,
        description="the service, or an incident (INC-4); default: the thread's incident's cause",
    )
    what_if: bool = Field(default=False, description="as if it failed now (before a change)")
    incident: str | None = Field(
        default=None, description="an incident (default: the thread's), for its propagation"
    )


class BlastRadiusSkill(Skill[BlastRadiusArgs]):
    verb = "blast-radius"
    aliases = ("blast", "impact")
    summary = "Everything that depends on a service (or an incident's cause), and what it is worth."
    args_model = BlastRadiusArgs

    async def handle(self, ctx: SkillContext, args: BlastRadiusArgs) -> Answer:
        if args.service is not None and _names_incident(args.service, catalog(ctx.topology)):
            if args.incident is not None:
                raise UsageError(
                    f"Both `{args.service}` and `--incident {args.incident}` name incidents; "
                    "give one."
                )
            args = args.model_copy(update={"service": None, "incident": args.service})
        on_incident = args.incident is not None or ctx.conversation.incident_id is not None
        if args.service is None and not on_incident:
            raise UsageError(
                "Which service? `blast-radius <service>`, or ask in an incident's thread."
            )
        reader = ctx.tools.health
        if reader is None:
            return await self._answer(ctx, args, on_incident, None)

        async def then(ctx: SkillContext, health: HealthSnapshot) -> Answer:
            return await self._answer(ctx, args, on_incident, health)

        # Prometheus may take up to its timeout: asked with no transaction open.
        return Outside(call=reader.read, then=then)

    async def _answer(
        self,
        ctx: SkillContext,
        args: BlastRadiusArgs,
        on_incident: bool,
        health: HealthSnapshot | None,
    ) -> Answer:
        topology = catalog(ctx.topology)
        incident = await load_incident(ctx, args.incident) if on_incident else None
        failed: dict[str, datetime] = {}
        if incident is not None:
            failed = failed_at((await ctx.alerts.briefs(incident_ids=[incident.id]))[incident.id])
        service = args.service or _incident_service(incident, list(failed), topology)
        try:
            view = blast_view(
                topology,
                service,
                alert_statuses=statuses(
                    await ctx.alerts.firing_services(projects=ctx.access.visible)
                ),
                health=health,
                failed=failed,
                what_if=args.what_if,
            )
        except UnknownServiceError as error:
            raise NotFoundError(f"{str(error)[0].upper()}{str(error)[1:]}.") from None
        # A tracker follows dependents; with none there is nothing to follow.
        tracked = (
            incident is not None
            and not args.what_if
            and incident.status != IncidentStatus.RESOLVED.value
            and bool(view.result.affected)
        )

        async def draw() -> bytes:
            # Drawing takes a moment of CPU: in a worker thread, with no transaction open.
            return await asyncio.to_thread(_draw, view.result)

        async def answer(ctx: SkillContext, png: bytes) -> Answer:
            if tracked:
                assert incident is not None
                # The tracker is written with the answer, so both appear together.
                await _track(ctx, incident, view)
                return Reply(blocks=_tracked_blocks(view, png, incident), incident_id=incident.id)
            return Reply(
                blocks=_blocks(view, png, incident, ctx.now),
                incident_id=incident.id if incident is not None else None,
            )

        return Outside(call=draw, then=answer)


def _draw(result: BlastRadius) -> bytes:
    # matplotlib and networkx weigh ~50 MB: loaded for the first picture, not at start.
    from skills.views.blast_radius_chart import render_blast_radius_png

    return render_blast_radius_png(result)


def _names_incident(word: str, topology: Topology) -> bool:
    """Whether `word` is an incident reference (`INC-4`, `#4`, `4`) rather than a service:
    a name the catalog knows is always the service."""
    if word in topology:
        return False
    try:
        parse_incident_id(word)
    except ValueError:
        return False
    return True


def _incident_service(incident: IncidentRow | None, failing: list[str], topology: Topology) -> str:
    """The incident's probable root cause, else its main service, else any failing service
    the catalog knows."""
    assert incident is not None
    cause = root_cause_from_record(incident.root_cause)
    for name in (cause.service if cause else None, incident.service, *sorted(failing)):
        if name and name in topology:
            return name
    raise NotFoundError(
        f"None of {display_id(incident.id)}'s services is in the catalog; "
        "try `blast-radius <service>`."
    )


async def _track(ctx: SkillContext, incident: IncidentRow, view: BlastView) -> None:
    """Open the tracker of (incident, service, platform), or bring the existing one up to
    date; the notifier posts or edits its message after the commit."""
    shown = snapshot(view, incident_id=incident.id, now=ctx.now)
    conversation = ctx.conversation
    tracker, created = await ctx.trackers.open(
        incident_id=incident.id,
        service=view.result.service,
        platform=conversation.platform,
        channel=conversation.channel,
        thread_id=conversation.thread,
        requested_by=ctx.actor.display_name,
        snapshot=shown,
        now=ctx.now,
    )
    if not created and (not tracker.live or changed(tracker.snapshot, shown)):
        await ctx.trackers.record(row=tracker, snapshot=shown, now=ctx.now)
    ctx.messages_changed = True


def _title(result: BlastRadius, incident: IncidentRow | None) -> str:
    if result.what_if:
        return f"**What if {result.service} failed?**"
    title = f"**Blast radius of {result.service}**"
    return f"{title} ({display_id(incident.id)})" if incident is not None else title


def _tracked_blocks(view: BlastView, png: bytes, incident: IncidentRow) -> list[Block]:
    """The picture and a pointer to the live tracker, which holds the table and the path."""
    result = view.result
    blocks: list[Block] = [
        Text(_title(result, incident)),
        Text(result.summary()),
        Image(png=png, alt=result.summary()),
        Context(f"Live tracker in {display_id(incident.id)}'s thread, {LIVE_HINT}."),
    ]
    if view.problem:
        blocks.append(Context(view.problem))  # what Prometheus could not answer
    return blocks


def _blocks(
    view: BlastView, png: bytes, incident: IncidentRow | None, now: datetime
) -> list[Block]:
    result = view.result
    blocks: list[Block] = [
        Text(_title(result, incident)),
        Text(result.summary(named=not result.what_if)),  # the title asks "What if …?"
    ]
    rows = [row_of(item, view.notes) for item in result.affected[:MAX_ROWS]]
    blocks += dependents_blocks(result.service, rows, len(result.affected))
    blocks.append(Image(png=png, alt=result.summary()))
    if result.propagation:
        lines = describe_propagation(result.propagation)
        blocks.append(
            Text("**Propagation**\n" + "\n".join(f"• {instants(line, now)}" for line in lines))
        )
    if view.sources:
        blocks.append(Context(view.sources))
    return blocks
