"""`timeline [incident]`: the incident's events, oldest first, the way a postmortem tells it.

```
INC-42 timeline · checkout: HighErrorRate
03:00:00 ─┬─ 📋 OPENED  Opened by alert PostgresDown: primary is not answering
03:00:25 ─┬─ 🚨 ALERT  Alert HighErrorRate joined: depends on postgres-primary, 1 hop, 25 s after
03:04:10 ─┬─ 👤 ACKNOWLEDGED by sam
```

Events are listed in the order they happened (their event time, then the order they were
recorded), each time with its date when it is not from today. Runs of alike alert events in
a storm are folded ("… 37 more alerts joined"), so the decisions people took stay readable
next to the alerts that forced them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated

from pydantic import BaseModel, Field

from core.incidents import display_id
from core.wording import plural
from skills.context import SkillContext
from skills.contract import Block, Context, Reply, Text
from skills.formatting import clock_time, duration
from skills.grammar import Positional
from skills.lookups import load_incident
from skills.markup import literal
from skills.registry import Skill
from storage.models import IncidentEventRow, IncidentRow

KINDS = {
    "opened": ("📋", "OPENED"),
    "alert_joined": ("🚨", "ALERT"),
    "alert_suppressed": ("🔕", "SUPPRESSED"),
    "alert_resolved": ("✅", "ALERT RESOLVED"),
    "alert_time": ("🕒", "ALERT TIME"),
    "acknowledged": ("👤", "ACKNOWLEDGED"),
    "investigating": ("🔍", "INVESTIGATING"),
    "mitigated": ("🩹", "MITIGATED"),
    "resolved": ("✅", "RESOLVED"),
    "reopened": ("🔁", "REOPENED"),
    "note": ("💬", "NOTE"),
    "merged": ("🔗", "MERGED"),
    "split": ("✂️", "SPLIT"),
    "change": ("🔄", "CHANGE"),
    "notification": ("🔔", "NOTIFICATION"),
    "policy": ("🤖", "POLICY"),
}
FOLDED = {"alert_joined", "alert_suppressed", "alert_resolved"}
# Events whose text a person typed: shown as typed, their own markup included.
TYPED = {"note"}
KEEP_OF_RUN = 3
MAX_LINES = 60


class TimelineArgs(BaseModel):
    incident: Annotated[str | None, Positional(incident=True)] = Field(
        default=None, description="incident id (INC-42); defaults to the thread's incident"
    )


class TimelineSkill(Skill[TimelineArgs]):
    verb = "timeline"
    aliases = ("events",)
    summary = "An incident's timeline: alerts, decisions, notes and who did what, in order."
    args_model = TimelineArgs

    async def handle(self, ctx: SkillContext, args: TimelineArgs) -> Reply:
        incident = await load_incident(ctx, args.incident)
        events = in_order(await ctx.incidents.events(incident_id=incident.id))
        lines = render_timeline(events, ctx.now)
        blocks: list[Block] = [
            Text(f"**{display_id(incident.id)} timeline** · {literal(incident.title)}"),
            Text("\n".join(lines) if lines else "_No events yet._"),
        ]
        blocks.append(Context(_figures(incident, len(events), ctx.now)))
        return Reply(blocks=blocks, incident_id=incident.id)


def in_order(events: Sequence[IncidentEventRow]) -> list[IncidentEventRow]:
    """`events` in the order they happened: by event time (naive times read as UTC), then
    by the order they were recorded."""

    def key(event: IncidentEventRow) -> tuple[datetime, int]:
        at = event.at if event.at.tzinfo else event.at.replace(tzinfo=UTC)
        return at, event.id or 0

    return sorted(events, key=key)


def event_line(event: IncidentEventRow, now: datetime) -> str:
    mark, label = KINDS.get(event.kind, ("⚡", "RUNBOOK"))
    if event.kind not in KINDS and not event.kind.startswith("runbook"):
        mark, label = "•", event.kind.replace("_", " ").upper()
    who = f" by {event.actor}" if event.actor and event.kind not in FOLDED else ""
    who = literal(who)
    when = clock_time(event.at, now)
    return f"{when} ─┬─ {mark} **{label}**{who}  {event_text(event)}"


def event_text(event: IncidentEventRow) -> str:
    """An event's text as markdown: what people typed (notes) as they typed it; what Lookout
    wrote around alert names and labels, as data."""
    return event.text if event.kind in TYPED else literal(event.text)


def render_timeline(events: Sequence[IncidentEventRow], now: datetime) -> list[str]:
    """One line per event; a run of more than `KEEP_OF_RUN` alike alert events keeps its
    first ones and says how many more there were, and when (times as of `now`)."""
    lines: list[str] = []
    index = 0
    while index < len(events):
        event = events[index]
        end = index + 1
        if event.kind in FOLDED:
            while end < len(events) and events[end].kind == event.kind:
                end += 1
        run = events[index:end]
        lines.extend(event_line(item, now) for item in run[:KEEP_OF_RUN])
        if len(run) > KEEP_OF_RUN:
            rest = run[KEEP_OF_RUN:]
            noun = KINDS[event.kind][1].lower().replace("alert ", "")
            lines.append(
                f"{clock_time(rest[0].at, now)} ─┴─ … {len(rest)} more "
                f"({noun}) until {clock_time(rest[-1].at, now)}"
            )
        index = end
    if len(lines) > MAX_LINES:
        lines = [f"… {len(lines) - MAX_LINES} earlier lines", *lines[-MAX_LINES:]]
    return lines


def _figures(incident: IncidentRow, events: int, now: datetime) -> str:
    parts = [f"Opened {clock_time(incident.created_at, now)}", plural(events, "event")]
    if incident.acknowledged_at:
        parts.append(f"MTTA {duration(incident.acknowledged_at - incident.created_at)}")
    if incident.resolved_at:
        parts.append(f"MTTR {duration(incident.resolved_at - incident.created_at)}")
    return " · ".join(parts)
