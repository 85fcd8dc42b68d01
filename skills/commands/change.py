"""`change <service> <what…>`: record a manual change (a restart, a hand-edited config) so
that correlation weighs it like any deploy."""

from __future__ import annotations

import secrets
from typing import Annotated

from pydantic import BaseModel, Field, field_validator

from core.changes import ChangeEvent, ChangeKind, check_service_name
from core.incidents import display_id
from skills.context import SkillContext
from skills.contract import Reply, Role
from skills.grammar import Positional
from skills.registry import Skill
from storage.summaries import reweigh_for_change


class ChangeArgs(BaseModel):
    service: Annotated[str, Positional()] = Field(max_length=255, description="the service")
    what: Annotated[str, Positional(rest=True)] = Field(
        min_length=1, max_length=2000, description="what was changed"
    )
    environment: str | None = Field(default=None, max_length=64, description="e.g. production")

    @field_validator("service")
    @classmethod
    def _service(cls, value: str) -> str:
        return check_service_name(value)


class ChangeSkill(Skill[ChangeArgs]):
    verb = "change"
    summary = "Record a manual change to a service, so correlation weighs it."
    role = Role.RESPONDER
    args_model = ChangeArgs

    async def handle(self, ctx: SkillContext, args: ChangeArgs) -> Reply:
        event = ChangeEvent(
            id=f"chat:{secrets.token_hex(8)}",
            kind=ChangeKind.MANUAL,
            services=(args.service,),
            started_at=ctx.now,
            source="chat",
            environment=args.environment,
            author=ctx.actor.display_name,
            description=args.what,
        )
        project = ctx.tools.projects.of_change({}, event.services)
        ctx.access.require(project, Role.RESPONDER, self.verb, f"service {args.service}")
        recorded = await ctx.changes.record(event=event, now=ctx.now, project=project)
        moved = await reweigh_for_change(
            recorded.event,
            ctx.topology,
            incidents=ctx.incidents,
            changes=ctx.changes,
            alerts=ctx.alerts,
            now=ctx.now,
        )
        for incident in moved:
            ctx.incident_changed(incident)
        text = f"Recorded: {event.summary()} — “{args.what}”."
        if moved:
            text += " It now weighs on " + ", ".join(display_id(i.id) for i in moved) + "."
        return Reply.text(text)
