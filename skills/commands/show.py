"""`show <incident> [--alert NAME]`: alerts, labels, annotations and the timeline, in the
incident's thread; with `--alert`, one alert whole (every label and annotation)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field

from core.incidents import display_id
from core.wording import plural
from skills.commands.timeline import event_text, in_order
from skills.context import SkillContext
from skills.contract import Block, Context, Fields, Reply, Table, Text
from skills.errors import NotFoundError
from skills.formatting import clock_time, mark, stamp
from skills.grammar import Positional
from skills.lookups import load_incident
from skills.markup import literal
from skills.registry import Skill
from skills.views.context_card import snapshot_blocks
from skills.views.incident_card import incident_buttons, owner_line, status_line
from storage.models import AlertRow, IncidentRow

HIDDEN_LABELS = {"alertname", "severity"}
MAX_ALERTS = 20
MAX_EVENTS = 30
NOTE_CHARS = 1000  # of one annotation in the overview; `--alert` shows it whole


class ShowArgs(BaseModel):
    incident: Annotated[str | None, Positional(incident=True)] = Field(
        default=None, description="incident id (INC-42); defaults to the thread's incident"
    )
    alert: str | None = Field(
        default=None,
        max_length=255,
        description="one alert whole, by name or fingerprint (8+ first characters)",
    )


class ShowSkill(Skill[ShowArgs]):
    verb = "show"
    aliases = ("details", "info")
    summary = "Show an incident: its alerts, labels, annotations and timeline."
    args_model = ShowArgs

    async def handle(self, ctx: SkillContext, args: ShowArgs) -> Reply:
        incident = await load_incident(ctx, args.incident)
        alerts = await ctx.alerts.for_incident(incident_id=incident.id)
        if args.alert is not None:
            return _one_alert(incident, alerts, args.alert, ctx.now)
        events = in_order(await ctx.incidents.events(incident_id=incident.id))
        ref = display_id(incident.id)
        title = literal(incident.title)
        blocks: list[Block] = [
            Text(f"{mark(incident.severity, incident.status)} **{ref} · {title}**"),
            Fields(
                (
                    ("Status", status_line(incident, ctx.now)),
                    ("Owner", owner_line(incident) or "nobody"),
                    ("Severity", incident.severity),
                    ("Service", literal(incident.service)),
                    ("Opened", stamp(incident.created_at, ctx.now)),
                )
            ),
            Text(f"**Alerts ({len(alerts)})**"),
            Table(
                columns=("Alert", "Status", "Severity", "Started", "Labels"),
                rows=tuple(
                    (
                        literal(alert.name),
                        alert.status + (" (suppressed)" if alert.suppressed_by else ""),
                        alert.severity,
                        clock_time(alert.starts_at, ctx.now),
                        literal(
                            ", ".join(
                                f"{key}={value}"
                                for key, value in sorted(alert.labels.items())
                                if key not in HIDDEN_LABELS
                            )
                        ),
                    )
                    for alert in alerts[:MAX_ALERTS]
                ),
            ),
        ]
        if len(alerts) > MAX_ALERTS:
            blocks.append(Context(f"…and {plural(len(alerts) - MAX_ALERTS, 'more alert')}"))
        notes = []
        seen: set[tuple[str, str]] = set()
        for alert in alerts:
            for key in ("summary", "description", "message", "runbook_url", "runbook"):
                value = alert.annotations.get(key)
                if value and (key, value) not in seen:
                    seen.add((key, value))
                    text = literal(value[:NOTE_CHARS])
                    if len(value) > NOTE_CHARS:
                        whole = f"`show {ref} --alert {alert.fingerprint[:12]}`"
                        text += f"… ({len(value):,} characters; {whole} for all of it)"
                    notes.append(f"• _{literal(alert.name)}_ {key}: {text}")
        if notes:
            blocks.append(Text("**Annotations**\n" + "\n".join(notes[:12])))
        if events:
            lines = [
                f"{clock_time(event.at, ctx.now)} {event_text(event)}"
                for event in events[-MAX_EVENTS:]
            ]
            blocks.append(Text("**Timeline**\n" + "\n".join(lines)))
        context = await ctx.contexts.latest(incident_id=incident.id)
        if context is not None:
            blocks += snapshot_blocks(context.snapshot, stored=True)
        blocks.append(incident_buttons(incident))
        return Reply(blocks=blocks, incident_id=incident.id)


def _one_alert(incident: IncidentRow, alerts: list[AlertRow], wanted: str, now: datetime) -> Reply:
    """Every label and annotation of the alert `wanted` names (newest occurrence first)."""
    ref = display_id(incident.id)
    found = [
        row
        for row in reversed(alerts)
        if row.name == wanted or (len(wanted) >= 8 and row.fingerprint.startswith(wanted))
    ]
    if not found:
        raise NotFoundError(f"{ref} has no alert named or fingerprinted `{literal(wanted)}`.")
    alert = found[0]
    labels = "\n".join(f"• {literal(k)} = {literal(v)}" for k, v in sorted(alert.labels.items()))
    blocks: list[Block] = [
        Text(
            f"**{ref} · {literal(alert.name)}** "
            f"({alert.status}, since {stamp(alert.starts_at, now)})"
        ),
        Text(f"**Labels**\n{labels}"),
    ]
    for key, value in sorted(alert.annotations.items()):
        blocks.append(Text(f"**{literal(key)}**\n{literal(value)}"))
    blocks.append(Context(f"fingerprint {alert.fingerprint} · occurrence {alert.occurrence}"))
    return Reply(
        blocks=blocks,
        incident_id=incident.id,
        more="the platform's message size ends here; the rest is kept in Lookout's database",
    )
