"""`severity [incident] <severity>`: set an incident's severity by hand. Recorded in its
timeline (old → new, who); from then on its alerts no longer change it, and escalation
follows it (a rise pages now, as its routing says)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

from core.incidents import display_id
from core.severity import Severity, parse_severity, severity_from_name
from skills.context import SkillContext
from skills.contract import Reply, Role
from skills.errors import ConflictError, UsageError
from skills.grammar import Positional
from skills.lookups import incident_first, load_incident
from skills.registry import Skill

CHOICES = ", ".join(level.label for level in sorted(Severity, reverse=True))
USAGE = f"Usage: `severity [incident] <severity>` ({CHOICES})"


class SeverityArgs(BaseModel):
    incident: Annotated[str | None, Positional(incident=True)] = Field(
        default=None, description="incident id (INC-42); defaults to the thread's incident"
    )
    level: Annotated[str | None, Positional()] = Field(
        default=None, description=f"the new severity: {CHOICES} (or p1…p4, sev1…sev3)"
    )


class SeveritySkill(Skill[SeverityArgs]):
    verb = "severity"
    aliases = ("sev",)
    summary = "Set an incident's severity (recorded in its timeline)."
    role = Role.RESPONDER
    args_model = SeverityArgs

    async def handle(self, ctx: SkillContext, args: SeverityArgs) -> Reply:
        reference, word = incident_first(args.incident, args.level)
        if not word:
            raise UsageError(f"Which severity? {USAGE}")
        try:
            level = severity_from_name(word)
        except ValueError:
            raise UsageError(f"`{word}` is not a severity. {USAGE}") from None
        incident = await load_incident(ctx, reference)
        ref = display_id(incident.id)
        if incident.merged_into is not None:
            raise ConflictError(
                f"{ref} was merged into {display_id(incident.merged_into)}; change that one."
            )
        before = parse_severity(incident.severity).label
        if before == level.label:
            raise ConflictError(f"{ref} is already {level.label}.")
        who = ctx.actor.display_name
        incident.severity = level.label
        incident.severity_set_by = who[:255]
        await ctx.incidents.add_event(
            incident_id=incident.id,
            kind="severity",
            text=f"Severity {before} → {level.label} by {who}",
            at=ctx.now,
            actor=who,
            data={"from": before, "to": level.label},
        )
        ctx.incident_changed(incident)
        return Reply.text(
            f"{ref} severity **{before} → {level.label}** ({who}).", incident_id=incident.id
        )
