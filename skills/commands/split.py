"""`split [incident] <alert…>`: those alerts are another incident; take them out.

Alerts are named by fingerprint (or its first 8+ characters) or by alert name (all alerts of
that name). They move, with their timeline events, into a new incident; both incidents
re-derive their title, severity and root cause, and both timelines say who split them.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

from core.incidents import AlertBrief, IncidentStatus, display_id, title_for
from core.wording import plural
from skills.commands.membership import rederive
from skills.context import SkillContext
from skills.contract import Reply, Role
from skills.errors import ConflictError, NotFoundError
from skills.grammar import Positional
from skills.lookups import load_incident
from skills.registry import Skill
from storage.alerts import to_alert
from storage.models import AlertRow

MIN_PREFIX = 8


class SplitArgs(BaseModel):
    incident: Annotated[str | None, Positional(incident=True)] = Field(
        default=None, description="incident id (INC-42); defaults to the thread's incident"
    )
    alerts: Annotated[list[str], Positional(rest=True)] = Field(
        description="fingerprints (or 8+ first characters) or alert names to take out"
    )


def select(alerts: list[AlertRow], names: list[str]) -> tuple[list[AlertRow], list[str]]:
    """The alerts each word names, and the words that name none."""
    chosen: dict[int, AlertRow] = {}
    unknown = []
    for word in names:
        found = [
            row
            for row in alerts
            if row.fingerprint == word
            or (len(word) >= MIN_PREFIX and row.fingerprint.startswith(word))
            or row.name == word
        ]
        if not found:
            unknown.append(word)
        chosen.update((row.id, row) for row in found)
    return list(chosen.values()), unknown


class SplitSkill(Skill[SplitArgs]):
    verb = "split"
    summary = "Move some alerts of an incident into a new incident of their own."
    role = Role.RESPONDER
    args_model = SplitArgs

    async def handle(self, ctx: SkillContext, args: SplitArgs) -> Reply:
        source = await load_incident(ctx, args.incident)
        ref = display_id(source.id)
        if source.merged_into is not None:
            raise ConflictError(f"{ref} was merged into {display_id(source.merged_into)}.")
        alerts = await ctx.alerts.for_incident(incident_id=source.id)
        chosen, unknown = select(alerts, args.alerts)
        if unknown:
            raise NotFoundError(
                f"{ref} has no alert named or fingerprinted {', '.join(f'`{w}`' for w in unknown)}."
            )
        if len(chosen) == len(alerts):
            raise ConflictError(f"That is every alert of {ref}; nothing would be left to split.")
        briefs = [AlertBrief.of(to_alert(row)) for row in chosen]
        worst = max(chosen, key=lambda row: to_alert(row).severity)
        target = await ctx.incidents.create(
            title=title_for(briefs)[:500],
            severity=worst.severity,
            service=worst.service or "unknown",
            first_alert_at=min(row.starts_at for row in chosen),
            now=ctx.now,
            project=source.project,  # split off, it stays in its project
        )
        # The split-off alerts were being handled as part of the source since its opening:
        # the new incident's episode starts there, acknowledged if the source was.
        target.opened_at = source.opened_at
        target.episode_started_at = target.first_alert_at
        for episode in await ctx.episodes.of_incident(incident_id=target.id):
            episode.opened_at = source.opened_at
        if source.acknowledged_at is not None and source.acknowledged_by is not None:
            await ctx.episodes.acknowledged(
                incident=target, by=source.acknowledged_by, at=source.acknowledged_at
            )
            if target.status == IncidentStatus.TRIGGERED:
                target.status = IncidentStatus.ACKNOWLEDGED.value
        fingerprints = {row.fingerprint for row in chosen}
        await ctx.incidents.move_alerts(
            alert_ids=[row.id for row in chosen],
            source=source.id,
            target=target.id,
            fingerprints=fingerprints,
        )
        who = ctx.actor.display_name
        names = ", ".join(sorted({row.name for row in chosen}))
        count = plural(len(chosen), "alert")
        for incident_id, text in (
            (source.id, f"Split {count} ({names}) into {display_id(target.id)} by {who}"),
            (target.id, f"Split from {ref} by {who}: {count} ({names})"),
        ):
            await ctx.incidents.add_event(
                incident_id=incident_id,
                kind="split",
                text=text,
                at=ctx.now,
                actor=who,
                data={
                    "source": source.id,
                    "target": target.id,
                    "fingerprints": sorted(fingerprints),
                },
            )
        await rederive(ctx, source)
        await rederive(ctx, target, split_off=True)
        return Reply.text(
            f"✂️ Split {count} ({names}) of {ref} into **{display_id(target.id)}**.",
            incident_id=source.id,
        )
