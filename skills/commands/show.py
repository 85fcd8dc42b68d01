"""`show <incident>`: alerts, labels, annotations and the timeline, in the incident's thread."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

from core.incidents import display_id
from skills.commands.correlate import snapshot_blocks
from skills.context import SkillContext
from skills.contract import Block, Context, Fields, Reply, Table, Text
from skills.formatting import clock_time, mark, stamp
from skills.grammar import Positional
from skills.lookups import load_incident
from skills.registry import Skill
from skills.views.incident_card import incident_buttons, status_line

HIDDEN_LABELS = {"alertname", "severity"}
MAX_ALERTS = 20
MAX_EVENTS = 30


class ShowArgs(BaseModel):
    incident: Annotated[str | None, Positional()] = Field(
        default=None, description="incident id (INC-42); defaults to the thread's incident"
    )


class ShowSkill(Skill[ShowArgs]):
    verb = "show"
    aliases = ("details", "info")
    summary = "Show an incident: its alerts, labels, annotations and timeline."
    args_model = ShowArgs

    async def handle(self, ctx: SkillContext, args: ShowArgs) -> Reply:
        incident = await load_incident(ctx, args.incident)
        alerts = await ctx.alerts.for_incident(incident_id=incident.id)
        events = await ctx.incidents.events(incident_id=incident.id)
        ref = display_id(incident.id)
        blocks: list[Block] = [
            Text(f"{mark(incident.severity, incident.status)} **{ref} · {incident.title}**"),
            Fields(
                (
                    ("Status", status_line(incident)),
                    ("Severity", incident.severity),
                    ("Service", incident.service),
                    ("Opened", stamp(incident.created_at)),
                )
            ),
            Text(f"**Alerts ({len(alerts)})**"),
            Table(
                columns=("Alert", "Status", "Severity", "Started", "Labels"),
                rows=tuple(
                    (
                        alert.name,
                        alert.status + (" (suppressed)" if alert.suppressed_by else ""),
                        alert.severity,
                        clock_time(alert.starts_at),
                        ", ".join(
                            f"{key}={value}"
                            for key, value in sorted(alert.labels.items())
                            if key not in HIDDEN_LABELS
                        ),
                    )
                    for alert in alerts[:MAX_ALERTS]
                ),
            ),
        ]
        if len(alerts) > MAX_ALERTS:
            blocks.append(Context(f"…and {len(alerts) - MAX_ALERTS} more alerts"))
        notes = []
        seen: set[tuple[str, str]] = set()
        for alert in alerts:
            for key in ("summary", "description", "message", "runbook_url", "runbook"):
                value = alert.annotations.get(key)
                if value and (key, value) not in seen:
                    seen.add((key, value))
                    notes.append(f"• _{alert.name}_ {key}: {value}")
        if notes:
            blocks.append(Text("**Annotations**\n" + "\n".join(notes[:12])))
        if events:
            lines = [f"`{clock_time(event.at)}` {event.text}" for event in events[-MAX_EVENTS:]]
            blocks.append(Text("**Timeline**\n" + "\n".join(lines)))
        context = await ctx.contexts.latest(incident_id=incident.id)
        if context is not None:
            blocks += snapshot_blocks(context.snapshot, stored=True)
        blocks.append(incident_buttons(incident))
        return Reply(blocks=blocks, incident_id=incident.id)
