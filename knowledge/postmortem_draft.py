"""A postmortem draft in Markdown from what Lookout recorded: summary, impact, timeline with
times and actors, root cause, what fixed it, follow-ups from the notes. Saved (edited) into
the postmortem folder, it is indexed like every other postmortem."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, timedelta

from core.incident_summary import root_cause_from_record
from core.incidents import display_id
from knowledge.similar import Match
from knowledge.sources import resolution_note
from storage.models import AlertRow, IncidentEventRow, IncidentRow, RunbookRunRow

FOLLOW_UP = re.compile(r"\b(follow[- ]?up|todo|action item|we should|need to|must)\b", re.I)
QUIET_EVENTS = {"notified"}
MAX_TIMELINE = 60


def _time(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "—"


def _span(span: timedelta) -> str:
    minutes = max(0, round(span.total_seconds() / 60))
    return f"{minutes} min" if minutes < 120 else f"{minutes // 60} h {minutes % 60} min"


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def draft(
    incident: IncidentRow,
    *,
    alerts: Sequence[AlertRow],
    events: Sequence[IncidentEventRow],
    runs: Sequence[RunbookRunRow],
    similar: Sequence[Match],
    now: datetime,
) -> str:
    """The draft's Markdown."""
    ref = display_id(incident.id)
    end = incident.resolved_at or now
    services = sorted({a.service for a in alerts if a.service} | {incident.service})
    names = list(dict.fromkeys(a.name for a in alerts))
    lines = [
        f"# Postmortem: {incident.title} ({ref})",
        "",
        f"Incident: {ref} · severity {incident.severity} · service {incident.service} · "
        f"{_time(incident.first_alert_at)}",
        "",
        "_Draft written by Lookout from the incident's record. Correct it, then save it in the "
        "postmortem folder: Lookout indexes it there._",
        "",
        "## Summary",
        "",
        f"{incident.title}. The first alert fired at {_time(incident.first_alert_at)}; "
        + (
            f"acknowledged by {incident.acknowledged_by} after "
            f"{_span(incident.acknowledged_at - incident.created_at)}; "
            if incident.acknowledged_at
            else "never acknowledged; "
        )
        + (
            f"resolved by {incident.resolved_by} after {_span(end - incident.created_at)}."
            if incident.resolved_at
            else f"still {incident.status} after {_span(end - incident.created_at)}."
        ),
        "",
        "## Impact",
        "",
        f"- Services: {', '.join(services)}",
        f"- Alerts: {len(alerts)} ({', '.join(names[:8])}{' …' if len(names) > 8 else ''})",
        f"- Duration: {_span(end - incident.first_alert_at)} from the first alert",
        "- Users affected: _fill in_",
        "",
        "## Timeline (UTC)",
        "",
        "| time | who | what |",
        "|---|---|---|",
    ]
    shown = [e for e in events if e.kind not in QUIET_EVENTS]
    for event in shown[:MAX_TIMELINE]:
        lines.append(
            f"| {event.at.strftime('%H:%M:%S')} | {_cell(event.actor or 'Lookout')} "
            f"| {_cell(event.text)} |"
        )
    if len(shown) > MAX_TIMELINE:
        lines.append(f"| … | | {len(shown) - MAX_TIMELINE} more events |")
    cause = root_cause_from_record(incident.root_cause)
    lines += ["", "## Root cause", ""]
    lines.append(
        f"Probable: {cause.service} ({cause.why}). _Confirm or correct._"
        if cause is not None
        else "_Not determined by Lookout: write what happened._"
    )
    lines += ["", "## What fixed it", ""]
    fix = resolution_note(events)
    lines.append(fix or "_Not recorded: say what fixed it._")
    for run in runs:
        if not run.dry_run:
            lines.append(f"- Runbook `{run.runbook}` ({run.requested_by_name}): {run.status}")
    notes = [e for e in events if e.kind == "note"]
    follow_ups = [n for n in notes if FOLLOW_UP.search(n.text)]
    lines += ["", "## Follow-ups", ""]
    lines += [f"- [ ] {_cell(n.text)} ({n.actor or 'someone'})" for n in follow_ups] or [
        "- [ ] _Add the actions that prevent a repeat._"
    ]
    if notes:
        lines += ["", "## Notes from the incident", ""]
        lines += [f"- {_time(n.at)} {n.actor or ''}: {_cell(n.text)}" for n in notes]
    if similar:
        lines += ["", "## Seen before", ""]
        lines += [
            f"- {m.ref}: {m.document.title}" + (f" — fixed by: {m.fix}" if m.fix else "")
            for m in similar
        ]
    return "\n".join(lines) + "\n"
