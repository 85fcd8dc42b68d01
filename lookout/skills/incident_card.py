"""The incident's root message: one per incident, re-rendered in place on every change."""

from __future__ import annotations

from datetime import datetime

from lookout.core.incidents import display_id
from lookout.skills.contract import Actions, Button, Context, Fields, Reply, Text
from lookout.skills.formatting import clock_time, duration, mark
from lookout.storage.models import AlertRow, IncidentRow

STATUS_COLORS = {"resolved": "resolved"}


def status_line(incident: IncidentRow) -> str:
    if incident.status == "resolved" and incident.resolved_at:
        by = f" by {incident.resolved_by}" if incident.resolved_by else ""
        return f"Resolved{by} at {clock_time(incident.resolved_at)}"
    if incident.status == "acknowledged" and incident.acknowledged_at:
        return (
            f"Acknowledged by {incident.acknowledged_by} at {clock_time(incident.acknowledged_at)}"
        )
    return "Triggered — not acknowledged"


def incident_buttons(incident: IncidentRow) -> Actions:
    ref = display_id(incident.id)
    buttons: list[Button] = []
    if incident.status == "triggered":
        buttons.append(Button("Acknowledge", "ack", (ref,), style="primary"))
    buttons.append(Button("Details", "show", (ref,)))
    if incident.status != "resolved":
        buttons.append(Button("Resolve", "resolve", (ref,), style="danger"))
    return Actions(tuple(buttons))


def incident_message(incident: IncidentRow, alerts: list[AlertRow], now: datetime) -> Reply:
    """The root message for `incident`, as of `now`."""
    firing = [alert for alert in alerts if alert.status == "firing"]
    services = sorted({alert.service for alert in alerts if alert.service})
    main = min(
        alerts or [],
        key=lambda a: (a.status != "firing", a.starts_at, a.id),
        default=None,
    )
    sign = mark(incident.severity, incident.status)
    headline = f"{sign} **{display_id(incident.id)} · {incident.title}**"
    blocks: list[Text | Fields | Context | Actions] = [Text(headline)]
    if main is not None:
        summary = main.annotations.get("summary") or main.annotations.get("description")
        if summary:
            blocks.append(Text(str(summary)))
    blocks.append(
        Fields(
            (
                ("Status", status_line(incident)),
                ("Severity", incident.severity),
                ("Service", incident.service),
                ("Alerts", f"{len(alerts)} ({len(firing)} firing)"),
                ("Started", clock_time(incident.first_alert_at)),
                ("Services", ", ".join(services[:6]) + (" …" if len(services) > 6 else "")),
            )
        )
    )
    if incident.status == "resolved":
        took = duration((incident.resolved_at or now) - incident.created_at)
        blocks.append(Context(f"Opened {clock_time(incident.created_at)} · resolved after {took}"))
    else:
        blocks.append(
            Context(
                f"Opened {clock_time(incident.created_at)} · "
                f"last alert {clock_time(incident.last_alert_at)}"
            )
        )
    blocks.append(incident_buttons(incident))
    color = "resolved" if incident.status == "resolved" else incident.severity
    return Reply(blocks=list(blocks), visibility="channel", incident_id=incident.id, color=color)
