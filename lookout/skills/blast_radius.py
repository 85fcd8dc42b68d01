"""`blast-radius [service] [--what-if] [--incident INC-1]`: who is hurt when a service fails.

Every service that depends on it, transitively, with depth, tier, owning team and status
(from the alerts firing in open incidents), the summed users and revenue, a picture of the
affected subgraph coloured by status and, on an incident, the propagation path: which
service failed after which, and when. Without a service, in an incident's thread (or with
`--incident`), it answers for the incident's probable root cause.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field

from lookout.core.blast_radius import (
    BlastRadius,
    UnknownServiceError,
    blast_radius,
    describe_propagation,
)
from lookout.core.incident_summary import root_cause_from_record, service_failures
from lookout.core.incidents import display_id
from lookout.core.topology import Topology
from lookout.skills.context import SkillContext
from lookout.skills.contract import Block, Context, Image, Reply, Table, Text
from lookout.skills.errors import NotFoundError, UsageError
from lookout.skills.grammar import Positional
from lookout.skills.lookups import load_incident
from lookout.skills.registry import Skill
from lookout.skills.services import catalog, statuses, tier_text
from lookout.storage.models import IncidentRow

MAX_ROWS = 25
STATUS_MARKS = {"failing": "🔴 failing", "degraded": "🟠 degraded", "healthy": "🟢 healthy"}


class BlastRadiusArgs(BaseModel):
    service: Annotated[str | None, Positional()] = Field(
        default=None, max_length=255, description="the service (default: the incident's cause)"
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

    async def handle(self, ctx: SkillContext, args: BlastRadiusArgs) -> Reply:
        topology = catalog(ctx.topology)
        incident = None
        if args.service is None and args.incident is None and ctx.conversation.incident_id is None:
            raise UsageError(
                "Which service? `blast-radius <service>`, or ask in an incident's thread."
            )
        if args.incident is not None or args.service is None:
            incident = await load_incident(ctx, args.incident)
        failed_at: dict[str, datetime] = {}
        if incident is not None:
            briefs = await ctx.alerts.briefs(incident_ids=[incident.id])
            failures = service_failures(briefs[incident.id])
            failed_at = {name: facts.first_alert_at for name, facts in failures.items()}
        service = args.service or _incident_service(incident, failed_at, topology)
        firing = statuses(await ctx.alerts.firing_services())
        try:
            result = blast_radius(
                topology, service, firing, what_if=args.what_if, failed_at=failed_at
            )
        except UnknownServiceError as error:
            raise NotFoundError(f"{str(error)[0].upper()}{str(error)[1:]}.") from None
        # Drawing takes a moment of CPU; keep the event loop free for other requests.
        png = await asyncio.to_thread(_draw, result)
        return Reply(
            blocks=_blocks(result, png, incident),
            incident_id=incident.id if incident is not None else None,
        )


def _draw(result: BlastRadius) -> bytes:
    # matplotlib and networkx weigh ~50 MB: loaded for the first picture, not at start.
    from lookout.skills.blast_radius_chart import render_blast_radius_png

    return render_blast_radius_png(result)


def _incident_service(
    incident: IncidentRow | None, failed_at: dict[str, datetime], topology: Topology
) -> str:
    """The incident's probable root cause, else its main service, else any failing service
    the catalog knows."""
    assert incident is not None
    cause = root_cause_from_record(incident.root_cause)
    for name in (cause.service if cause else None, incident.service, *sorted(failed_at)):
        if name and name in topology:
            return name
    raise NotFoundError(
        f"None of {display_id(incident.id)}'s services is in the catalog; "
        "try `blast-radius <service>`."
    )


def _blocks(result: BlastRadius, png: bytes, incident: IncidentRow | None) -> list[Block]:
    title = f"**Blast radius of {result.service}**"
    if result.what_if:
        title = f"**What if {result.service} failed?**"
    elif incident is not None:
        title += f" ({display_id(incident.id)})"
    blocks: list[Block] = [Text(title), Text(result.summary())]
    if result.affected:
        blocks.append(
            Table(
                columns=("Service", "Depth", "Via", "Tier", "Team", "Status"),
                rows=tuple(
                    (
                        item.name,
                        str(item.depth),
                        item.via,
                        tier_text(item.tier),
                        item.team or "—",
                        STATUS_MARKS[item.status.value],
                    )
                    for item in result.affected[:MAX_ROWS]
                ),
            )
        )
        if len(result.affected) > MAX_ROWS:
            blocks.append(Context(f"…and {len(result.affected) - MAX_ROWS} more dependents"))
    else:
        blocks.append(Context(f"Nothing in the catalog depends on {result.service}."))
    blocks.append(Image(png=png, alt=result.summary()))
    if result.propagation:
        lines = describe_propagation(result.propagation)
        blocks.append(Text("**Propagation**\n" + "\n".join(f"• {line}" for line in lines)))
    return blocks
