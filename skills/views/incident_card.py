"""The incident's root message: one per incident, re-rendered in place on every change."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from core.change_correlation import ScoredChange
from core.incident_summary import root_cause_from_record
from core.incidents import display_id, main_alert
from core.severity import Severity
from core.wording import plural
from skills.contract import Actions, Button, Context, Fields, Menu, Reply, Text
from skills.formatting import clock_time, duration, mark
from skills.markup import literal
from skills.moments import instants
from skills.views.incident_paging import PagingFacts
from storage.alerts import AlertRepository
from storage.models import IncidentRow

SUMMARY_CHARS = 600


def status_line(incident: IncidentRow, now: datetime) -> str:
    """What state `incident` is in, since when (times as of `now`)."""
    # --- incident intelligence: merged, investigating, mitigated ---
    if incident.merged_into is not None:
        return f"Merged into {display_id(incident.merged_into)}"
    if incident.status == "mitigated" and incident.mitigated_at:
        return f"Mitigated at {clock_time(incident.mitigated_at, now)}"
    if incident.status == "investigating":
        by = f" by {literal(incident.acknowledged_by)}" if incident.acknowledged_by else ""
        return f"Investigating{by}"
    # --- end incident intelligence ---
    if incident.status == "resolved" and incident.resolved_at:
        by = f" by {literal(incident.resolved_by)}" if incident.resolved_by else ""
        return f"Resolved{by} at {clock_time(incident.resolved_at, now)}"
    if incident.status == "acknowledged" and incident.acknowledged_at:
        who = literal(incident.acknowledged_by or "someone")
        return f"Acknowledged by {who} at {clock_time(incident.acknowledged_at, now)}"
    return "Triggered — not acknowledged"


def _paging_fields(paging: PagingFacts | None) -> tuple[tuple[str, str], ...]:
    if paging is None:
        return ()
    fields = []
    if paging.escalation:
        fields.append(("Escalation", paging.escalation))
    if paging.sla:
        fields.append(("SLA", paging.sla))
    return tuple(fields)


SEVERITY_CHOICES = tuple(
    (level.label.capitalize(), level.label) for level in sorted(Severity, reverse=True)
)


def owner_line(incident: IncidentRow) -> str | None:
    """Who owns the incident (`assign`), shown as data; None when nobody does."""
    return literal(incident.owner_name) if incident.owner_name else None


def incident_menus(incident: IncidentRow) -> tuple[Menu, ...]:
    """Pick an owner, or a severity, on an open incident's card."""
    if incident.status == "resolved" or incident.merged_into is not None:
        return ()
    ref = display_id(incident.id)
    return (
        Menu("Assign to…", "assign", (ref,), people=True),
        Menu("Severity", "severity", (ref,), SEVERITY_CHOICES, current=incident.severity),
    )


def incident_buttons(incident: IncidentRow) -> Actions:
    ref = display_id(incident.id)
    buttons: list[Button] = []
    if incident.status == "triggered":
        buttons.append(Button("Acknowledge", "ack", (ref,), style="primary"))
    elif incident.status in ("acknowledged", "investigating", "mitigated"):
        buttons.append(Button("Unacknowledge", "unack", (ref,)))
    if incident.status != "resolved" and incident.merged_into is None:
        buttons.append(Button("Assign to me", "assign", (ref, "me")))
    buttons.append(Button("Details", "show", (ref,)))
    if incident.status != "resolved":
        buttons.append(Button("Run runbook", "runbooks", ("--incident", ref)))
    buttons.append(Button("Similar", "similar", (ref,)))
    buttons.append(Button("Correlate", "correlate", (ref,)))
    if incident.merged_into is None and (incident.root_cause or {}).get("in_catalog"):
        buttons.append(Button("Blast radius", "blast-radius", ("--incident", ref)))
    if incident.status != "resolved":
        buttons.append(Button("Resolve", "resolve", (ref,), style="danger"))
    return Actions(tuple(buttons), incident_menus(incident))


@dataclass(frozen=True)
class CardFacts:
    """What the root message says about an incident's alerts."""

    alerts: int
    firing: int
    services: tuple[str, ...]
    summary: str | None


async def card_facts(alerts: AlertRepository, incident_ids: list[int]) -> dict[int, CardFacts]:
    """Facts for many incidents from two summarizing queries, however many alerts they hold."""
    briefs = await alerts.briefs(incident_ids=incident_ids)
    mains = {i: main_alert(b) for i, b in briefs.items() if b}
    annotations = await alerts.annotations(keys=[(i, m.fingerprint) for i, m in mains.items()])
    facts = {}
    for incident_id in incident_ids:
        group = briefs.get(incident_id, [])
        notes = annotations.get(incident_id, {})
        facts[incident_id] = CardFacts(
            alerts=sum(b.count for b in group),
            firing=sum(b.count for b in group if b.firing),
            services=tuple(sorted({b.service for b in group if b.service})),
            summary=notes.get("summary") or notes.get("description") or notes.get("message"),
        )
    return facts


def incident_message(
    incident: IncidentRow, facts: CardFacts, now: datetime, paging: PagingFacts | None = None
) -> Reply:
    """The root message for `incident`, as of `now`. Everything from alerts is shown as data
    (`skills.markup.literal`); the summary is cut to `SUMMARY_CHARS`, and any platform that
    must shorten more points at `show`. `paging` adds the escalation reached and the SLA
    clock."""
    sign = mark(incident.severity, incident.status)
    ref = display_id(incident.id)
    headline = f"{sign} **{ref} · {literal(incident.title)}**"
    blocks: list[Text | Fields | Context | Actions] = [Text(headline)]
    if facts.summary:
        summary = facts.summary
        if len(summary) > SUMMARY_CHARS:
            blocks.append(Text(literal(summary[:SUMMARY_CHARS].rstrip()) + "…"))
            blocks.append(Context(f"Summary truncated — `show {ref}` for everything"))
        else:
            blocks.append(Text(literal(summary)))
    cause = root_cause_from_record(incident.root_cause)  # stored by ingestion
    if cause is not None and incident.merged_into is None:
        blocks.append(Text(f"🎯 {instants(literal(cause.headline()), now)}"))
    if incident.suspect_change and incident.merged_into is None:
        blocks.append(Text(literal(ScoredChange.from_record(incident.suspect_change).headline())))
    services = ", ".join(facts.services[:6]) + (" …" if len(facts.services) > 6 else "")
    blocks.append(
        Fields(
            (
                ("Status", status_line(incident, now)),
                *((("Owner", owner),) if (owner := owner_line(incident)) else ()),
                ("Severity", incident.severity),
                ("Service", literal(incident.service)),
                ("Alerts", f"{facts.alerts} ({facts.firing} firing)"),
                ("Started", clock_time(incident.first_alert_at, now)),
                ("Services", literal(services)),
                *_paging_fields(paging),
            )
        )
    )
    if incident.truncated_alerts:
        blocks.append(
            Context(
                f"⚠ Alertmanager left up to {plural(incident.truncated_alerts, 'alert')} out of a "
                f"notification (its `max_alerts`); `show {ref}` lists the ones that arrived."
            )
        )
    if incident.status == "resolved":
        took = duration((incident.resolved_at or now) - incident.created_at)
        blocks.append(
            Context(f"Opened {clock_time(incident.created_at, now)} · resolved after {took}")
        )
    else:
        blocks.append(
            Context(
                f"Opened {clock_time(incident.created_at, now)} · "
                f"last alert {clock_time(incident.last_alert_at, now)}"
            )
        )
    blocks.append(incident_buttons(incident))
    color = "resolved" if incident.status == "resolved" else incident.severity
    return Reply(
        blocks=list(blocks),
        visibility="channel",
        incident_id=incident.id,
        color=color,
        more=f"`show {ref}` for everything",
    )
