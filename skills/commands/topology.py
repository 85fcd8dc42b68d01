"""`topology <service> [--hops N]`: what a service depends on and what depends on it."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

from core.blast_radius import ServiceStatus
from core.wording import plural
from skills.context import SkillContext
from skills.contract import Actions, Block, Button, Context, Reply, Table, Text
from skills.grammar import Positional
from skills.registry import Skill
from skills.services import known_service, statuses, tier_text
from skills.views.blast_view import STATUS_MARKS

MAX_ROWS = 40


class TopologyArgs(BaseModel):
    service: Annotated[str, Positional()] = Field(max_length=255, description="a service")
    hops: int = Field(default=2, ge=1, le=6, description="how far to look each way")


class TopologySkill(Skill[TopologyArgs]):
    verb = "topology"
    aliases = ("deps", "neighbours", "neighbors")
    summary = "A service's dependencies and dependents, with hops, from the service catalog."
    args_model = TopologyArgs

    async def handle(self, ctx: SkillContext, args: TopologyArgs) -> Reply:
        topology = ctx.topology
        name = known_service(topology, args.service)
        service = topology.service(name)
        firing = statuses(await ctx.alerts.firing_services(projects=ctx.access.visible))
        upstream = topology.upstream(name, args.hops)
        downstream = topology.downstream(name, args.hops)
        facts = [
            f"team {service.team}" if service.team else "no team",
            f"tier {tier_text(service.tier)}",
        ]
        if service.sources:
            facts.append("from " + ", ".join(sorted(service.sources)))
        blocks: list[Block] = [
            Text(f"**{name}** ({'; '.join(facts)}) — {STATUS_MARKS[_status(firing, name)]}")
        ]
        rows = [
            (
                direction,
                other,
                str(hops),
                tier_text(topology.service(other).tier),
                topology.service(other).team or "—",
                STATUS_MARKS[_status(firing, other)],
            )
            for direction, found in (("depends on", upstream), ("used by", downstream))
            for other, hops in sorted(found.items(), key=lambda item: (item[1], item[0]))
        ]
        if rows:
            blocks.append(
                Table(
                    columns=("Direction", "Service", "Hops", "Tier", "Team", "Status"),
                    rows=tuple(rows[:MAX_ROWS]),
                )
            )
            if len(rows) > MAX_ROWS:
                blocks.append(
                    Context(f"…and {len(rows) - MAX_ROWS} more within {plural(args.hops, 'hop')}")
                )
        else:
            blocks.append(Text(f"{name} has no known dependencies or dependents."))
        blocks.append(
            Context(
                f"{len(upstream)} upstream and {len(downstream)} downstream within "
                f"{plural(args.hops, 'hop')} · catalog of {plural(len(topology), 'service')}, "
                f"{plural(len(topology.edges()), 'edge')}"
            )
        )
        if downstream:
            blocks.append(Actions((Button("Blast radius", "blast-radius", (name,)),)))
        return Reply(blocks=blocks)


def _status(firing: dict[str, ServiceStatus], name: str) -> str:
    return firing.get(name, ServiceStatus.HEALTHY).value
