"""What a page says: to a person (a direct message, an @mention), a channel, an email.

Everything that came from alerts goes through `skills.markup.literal`; the buttons run the
same commands as the incident's message (a click in a direct message acknowledges as typing
`ack INC-4` would).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from core.incidents import display_id
from core.wording import plural
from skills.contract import Actions, Button, Context, Reply, Text
from skills.formatting import SEVERITY_MARKS, clock_time
from skills.markup import literal
from skills.moments import in_utc
from skills.views.incident_card import CardFacts
from storage.models import IncidentRow

SUMMARY_CHARS = 400


@dataclass(frozen=True)
class PageContext:
    """Why this page is sent: a level of a policy (`trigger`), an SLA breach (`breach`), a
    notice (`notice`: nobody could be paged, nobody acknowledged), or incidents folded into
    an earlier page by the rate limit (`fold`)."""

    action: str
    level: int | None = None  # 1-based
    levels: int | None = None
    cycle: int = 0
    policy: str | None = None
    note: str | None = None
    folded: tuple[int, ...] = field(default_factory=tuple)


def headline(incident: IncidentRow) -> str:
    """`INC-4 · checkout: HighErrorRate (critical)` as plain text."""
    return f"{display_id(incident.id)} · {incident.title} ({incident.severity})"


def why(context: PageContext) -> str:
    if context.action == "breach":
        return f"SLA breach: {context.note or ''}".strip()
    if context.action == "notice":
        return context.note or ""
    if context.level is not None:
        level = f"level {context.level} of {context.levels}"
        again = f", repeat {context.cycle}" if context.cycle else ""
        return f"Escalation {level}{again} (policy {context.policy})"
    return context.note or ""


def page_lines(
    incident: IncidentRow, facts: CardFacts, context: PageContext, now: datetime
) -> list[str]:
    """The page as plain lines (email, webhooks, PagerDuty details), times in UTC with their
    date when not from `now`'s day."""
    lines = [why(context)]
    if facts.summary:
        lines.append(facts.summary[:SUMMARY_CHARS])
    lines.append(
        f"Service {incident.service} · {plural(facts.alerts, 'alert')} ({facts.firing} firing)"
        f" · opened {in_utc(clock_time(incident.opened_at, now))}"
    )
    if context.folded:
        lines.append("Also: " + ", ".join(display_id(i) for i in context.folded))
    lines.append(f"Acknowledge with: ack {display_id(incident.id)}")
    return [line for line in lines if line]


def page_reply(
    incident: IncidentRow, facts: CardFacts, context: PageContext, now: datetime
) -> Reply:
    """The page as a chat message, with Acknowledge, Details and Snooze buttons."""
    ref = display_id(incident.id)
    sign = "⏰" if context.action == "breach" else SEVERITY_MARKS.get(incident.severity, "📟")
    title = f"{sign} **{ref} · {literal(incident.title)}** ({incident.severity})"
    blocks: list[Text | Context | Actions] = [Text(title)]
    reason = why(context)
    if reason:
        blocks.append(Text(f"📟 {literal(reason)}"))
    if facts.summary:
        summary = facts.summary
        cut = summary[:SUMMARY_CHARS].rstrip() + ("…" if len(summary) > SUMMARY_CHARS else "")
        blocks.append(Text(literal(cut)))
    if context.folded:
        shown = ", ".join(display_id(i) for i in context.folded[:20])
        more = len(context.folded) - 20
        blocks.append(
            Context(
                f"Also {shown}{f' and {more} more' if more > 0 else ''} — folded into this "
                "message (rate limit for this kind of incident)"
            )
        )
    blocks.append(
        Context(
            f"Service {literal(incident.service)} · {plural(facts.alerts, 'alert')} "
            f"({facts.firing} firing) · opened {clock_time(incident.opened_at, now)}"
        )
    )
    if incident.status == "triggered":
        blocks.append(
            Actions(
                (
                    Button("Acknowledge", "ack", (ref,), style="primary"),
                    Button("Details", "show", (ref,)),
                    Button("Snooze 1h", "snooze", (ref, "1h")),
                )
            )
        )
    return Reply(
        blocks=list(blocks),
        visibility="channel",
        incident_id=None,
        color=incident.severity,
        more=f"`show {ref}` for everything",
    )


def subject(incident: IncidentRow, context: PageContext) -> str:
    prefix = "SLA breach" if context.action == "breach" else "Page"
    return f"[Lookout] {prefix}: {headline(incident)}"[:200]
