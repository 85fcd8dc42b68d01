"""What the incident's message says about paging: the level reached and who it paged, and
the SLA clocks ("ack due by 14:32").

A clock is shown by its deadline, a moment each platform renders in its reader's time zone,
not by a countdown: the message is redrawn when something happens, not every minute, and a
deadline stays true between redraws. The breach is such a change (the escalation pass
records it and the message turns to "overdue since")."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from core.escalation import spoken_duration
from core.sla import ClockState, SlaRules, clocks
from skills.markup import literal
from skills.moments import when
from storage.escalations import EscalationRepository
from storage.models import EscalationRow, IncidentRow


@dataclass(frozen=True)
class PagingFacts:
    escalation: str | None
    sla: str | None


def escalation_line(row: EscalationRow, now: datetime) -> str | None:
    """`Level 2 of 2 (policy default): paging Dana, PagerDuty` and the like (times as of
    `now`)."""
    paged: dict[str, Any] = row.paged or {}
    who = ", ".join([*paged.get("people", []), *paged.get("machines", [])]) or "nobody"
    reached = (
        f"level {paged.get('level')} of {paged.get('levels')}"
        + (f", repeat {paged['cycle']}" if paged.get("cycle") else "")
        if row.reached
        else None
    )
    if row.status == "active":
        return (
            f"📟 {reached.capitalize()} ({row.policy}): paging {literal(who)}"
            if reached
            else (f"📟 Policy {row.policy}: paging starts now")
        )
    if row.status == "exhausted":
        # Without a timer, the notice after the last level has gone: nobody else is paged.
        after = "yet" if row.next_at is not None else "and nobody else will be paged"
        level = (reached or "no level").capitalize()
        return f"📟 {level} ({row.policy}) — nobody acknowledged {after}"
    if row.status == "deferred" and row.next_at is not None:
        return f"🕘 Paging deferred to business hours ({when(row.next_at, now)})"
    if row.status == "snoozed" and row.snoozed_until is not None:
        who = literal(row.snoozed_by or "someone")
        return f"🔕 Snoozed by {who} until {when(row.snoozed_until, now)}"
    if row.status in ("acknowledged", "resolved") and row.reached:
        return f"Escalation stopped at {reached}: {literal(row.reason)}"
    if row.status == "post":
        return f"Not paged: {literal(row.reason)}"
    return None


def clock_line(state: ClockState, now: datetime) -> str:
    """`ack due by 14:32 (target 5m)`, `resolve overdue since 15:10 (target 4h)`, or how a
    stopped clock ended (`ack in 3:10 — met (target 5m)`)."""
    if not state.running:
        return state.describe()
    verb = "ack" if state.clock == "mtta" else "resolve"
    limit = state.target.limit(state.clock)
    target = f" (target {spoken_duration(limit)})" if limit is not None else ""
    if state.breached:
        return f"{verb} overdue since {when(state.due, now)}{target}"
    return f"{verb} due by {when(state.due, now)}{target}"


async def paging_facts(
    escalations: EscalationRepository,
    incidents: Sequence[IncidentRow],
    sla: SlaRules | None,
    now: datetime,
) -> dict[int, PagingFacts]:
    rows = await escalations.current(incidents=incidents)
    found: dict[int, PagingFacts] = {}
    for incident in incidents:
        row = rows.get(incident.id)
        line = escalation_line(row, now) if row is not None else None
        clock_text = None
        if sla is not None and incident.status != "resolved" and incident.merged_into is None:
            running = [
                state
                for state in clocks(
                    sla,
                    severity=incident.severity,
                    service=incident.service,
                    opened_at=incident.opened_at,
                    acknowledged_at=incident.acknowledged_at,
                    resolved_at=incident.resolved_at,
                    now=now,
                )
                if state.running or state.breached
            ]
            if running:
                sign = "⏰" if any(state.breached for state in running) else "⏱"
                clock_text = f"{sign} " + " · ".join(clock_line(state, now) for state in running)
        if line or clock_text:
            found[incident.id] = PagingFacts(line, clock_text)
    return found
