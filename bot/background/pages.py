"""The pages outbox: each pending page is sent, retried with backoff, or given up — never
dropped without a word.

A page is leased while it is being sent (another replica skips it; a replica that dies
mid-send leaves a lease that runs out, and the page is sent again: at least once, and
receivers can deduplicate on its key). Failures are classified by the receiver's answer:
permanent ones end the page at once, transient ones (429, 5xx, timeouts) are retried after
`retry.wait` (or the receiver's Retry-After). A trigger that has failed `failover_after`
times brings the next level of its escalation forward; one that fails for good with no
level left posts a notice in the incident's thread.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.background.page_channels import Outgoing, PageChannels
from bot.metrics import Metrics
from core.escalation import RetryRules
from core.incidents import IncidentStatus, display_id
from integrations.sending import SendError
from skills.moments import in_utc, when
from skills.views.incident_card import card_facts
from skills.views.page_message import PageContext
from storage.database import Database
from storage.models import EscalationRow, IncidentRow, PageRow
from storage.uow import UnitOfWork

log = logging.getLogger(__name__)

LEASE = timedelta(seconds=60)
CHANNEL_WORDS = {"chat": "chat", "pagerduty": "PagerDuty", "webhook": "webhook", "email": "email"}


@dataclass
class Delivery:
    sent: int = 0
    failed_over: bool = False


class PageSender:
    def __init__(
        self,
        database: Database,
        channels: PageChannels,
        *,
        retry: RetryRules,
        metrics: Metrics,
    ) -> None:
        self._database = database
        self.channels = channels
        self._retry = retry
        self._metrics = metrics

    async def deliver(self, now: datetime) -> Delivery:
        """Send every page due at `now` (one lease per page)."""
        result = Delivery()
        async with self._database.unit_of_work() as uow:
            due = await uow.pages.due(now=now)
            for page in due:
                page.lease_until = now + LEASE
            ids = [page.id for page in due]
        for page_id in ids:
            outcome = await self._one(page_id, now)
            result.sent += outcome == "sent"
            result.failed_over |= outcome == "failed_over"
        return result

    async def _one(self, page_id: int, now: datetime) -> str:
        async with self._database.unit_of_work() as uow:
            page = await uow.pages.get(page_id=page_id)
            if page is None or page.status != "pending":
                return "gone"
            incident = await uow.incidents.get(incident_id=page.incident_id)
            if incident is None:
                page.status = "cancelled"
                return "cancelled"
            escalation = (
                await uow.escalations.get(escalation_id=page.escalation_id)
                if page.escalation_id
                else None
            )
            stale = _stale(page, incident, escalation)
            if stale is not None:
                page.status, page.last_error, page.updated_at = "cancelled", stale, now
                page.lease_until = None
                return "cancelled"
            outgoing = await _outgoing(uow, page, incident, self.channels.chat_platforms)
        try:
            result = await self.channels.send(outgoing, now)
        except SendError as error:
            return await self._failed(page_id, error, now)
        except Exception as error:  # a bug or an unclassified client error: retried
            log.exception("page failed unexpectedly", extra={"page": page_id})
            return await self._failed(page_id, SendError(repr(error)), now)
        await self._sent(page_id, result, now)
        return "sent"

    async def _sent(self, page_id: int, result: dict[str, Any], now: datetime) -> None:
        async with self._database.unit_of_work() as uow:
            page = await uow.pages.get(page_id=page_id)
            if page is None:
                return
            page.status, page.sent_at, page.updated_at = "sent", now, now
            page.result, page.lease_until, page.last_error = result, None, None
            if page.escalation_id and page.channel == "pagerduty" and page.action == "trigger":
                escalation = await uow.escalations.get(escalation_id=page.escalation_id)
                if escalation is not None and escalation.pagerduty is None:
                    escalation.pagerduty = "triggered"
            retried = f" after {page.attempts + 1} attempts" if page.attempts else ""
            await uow.incidents.add_event(
                incident_id=page.incident_id,
                kind="paged",
                text=f"{_what(page)}: sent via {_how(page)}{retried}",
                at=now,
                data={"page": page.id, "recipient": page.recipient, "result": result},
            )
        self._metrics.pages.labels(page.channel, "sent").inc()

    async def _failed(self, page_id: int, error: SendError, now: datetime) -> str:
        outcome = "retrying"
        async with self._database.unit_of_work() as uow:
            page = await uow.pages.get(page_id=page_id)
            if page is None:
                return "gone"
            page.attempts += 1
            page.last_error = error.reason[:2000]
            page.lease_until = None
            page.updated_at = now
            final = error.permanent or page.attempts >= self._retry.attempts
            escalation = (
                await uow.escalations.get(escalation_id=page.escalation_id, lock=True)
                if page.escalation_id
                else None
            )
            text = (
                f"{_what(page)} via {_how(page)} failed (attempt {page.attempts}): {error.reason}"
            )
            if final:
                page.status = "failed"
                text += " — given up" if error.permanent else " — no more retries"
            else:
                page.next_attempt_at = now + self._retry.wait(page.attempts, error.retry_after)
                text += f" — retrying at {in_utc(when(page.next_attempt_at, now, seconds=True))}"
            if (
                page.action == "trigger"
                and not page.failed_over
                and (final or page.attempts >= self._retry.failover_after)
            ):
                page.failed_over = True
                moved = _bring_forward(escalation, now)
                outcome = "failed_over" if moved else outcome
                if moved:
                    text += "; notifying the next level now"
                elif final and escalation is not None:
                    await self._nobody_left(uow, page, escalation, error, now)
            elif page.action == "trigger" and final and _past_last_level(escalation):
                # Failed over earlier, with no level left then; now it is given up too.
                assert escalation is not None
                await self._nobody_left(uow, page, escalation, error, now)
            await uow.incidents.add_event(
                incident_id=page.incident_id,
                kind="page_failed",
                text=text,
                at=now,
                data={"page": page.id, "recipient": page.recipient, "final": final},
            )
            if final or outcome == "failed_over":
                incident = await uow.incidents.get(incident_id=page.incident_id)
                if incident is not None:
                    incident.revision += 1
        self._metrics.pages.labels(page.channel, "failed" if final else "retry").inc()
        level = logging.ERROR if final else logging.WARNING
        log.log(level, "a page failed", extra={"page": page_id, "error": error.reason})
        return outcome

    async def _nobody_left(
        self,
        uow: UnitOfWork,
        page: PageRow,
        escalation: EscalationRow,
        error: SendError,
        now: datetime,
    ) -> None:
        """The last level's page failed for good: say so where people look."""
        note = (
            f"⚠ Could not page {page.person or page.target} for {display_id(page.incident_id)} "
            f"via {_how(page)}: {error.reason}. No escalation level is left; "
            "someone must take this incident."
        )
        for platform in self.channels.chat_platforms:
            if page.channel == "chat" and page.recipient.split(":")[1:2] == [platform]:
                continue  # that platform is the one failing
            notice = PageRow(
                key=f"n:{page.incident_id}:{page.episode}:failed:{page.id}:{platform}"[:255],
                incident_id=page.incident_id,
                episode=page.episode,
                escalation_id=escalation.id,
                level=page.level,
                target=page.target,
                channel="chat",
                recipient=f"thread:{platform}",
                person=None,
                action="notice",
                kind="",
                status="pending",
                attempts=0,
                next_attempt_at=now,
                failed_over=True,
                payload={"note": note},
                result={},
                created_at=now,
                updated_at=now,
            )
            await uow.pages.add(notice)


def _bring_forward(escalation: EscalationRow | None, now: datetime) -> bool:
    """Make the escalation's next level due now; False when there is none to notify."""
    if escalation is None or escalation.status != "active" or escalation.next_at is None:
        return False
    if escalation.next_at > now:
        escalation.next_at = now
        escalation.updated_at = now
    return True


def _past_last_level(escalation: EscalationRow | None) -> bool:
    """Every level has fired and nobody has taken the incident."""
    return escalation is not None and escalation.status == "exhausted"


def _stale(page: PageRow, incident: IncidentRow, escalation: EscalationRow | None) -> str | None:
    """Why a page should no longer go out, if it should not."""
    if page.action not in ("trigger", "fold"):
        return None
    if incident.episode != page.episode or incident.status != IncidentStatus.TRIGGERED.value:
        taken = incident.acknowledged_by or incident.resolved_by or "someone"
        return f"not sent: {incident.status} by {taken} first"
    if escalation is not None and escalation.status == "snoozed":
        return f"not sent: snoozed by {escalation.snoozed_by}"
    return None


async def _outgoing(
    uow: UnitOfWork, page: PageRow, incident: IncidentRow, platforms: list[str]
) -> Outgoing:
    facts = (await card_facts(uow.alerts, [incident.id]))[incident.id]
    threads: dict[str, tuple[str, str | None]] = {}
    for platform in platforms:
        row = await uow.threads.get(incident_id=incident.id, platform=platform)
        if row is not None and row.message_id:
            threads[platform] = (row.channel, row.thread_id or row.message_id)
    links: list[tuple[str, str]] = []
    for alert in (await uow.alerts.for_incident(incident_id=incident.id))[:5]:
        if alert.generator_url and alert.generator_url.startswith(("http://", "https://")):
            links.append((alert.generator_url, f"{alert.name} (source)"))
        runbook = (alert.annotations or {}).get("runbook_url")
        if isinstance(runbook, str) and runbook.startswith(("http://", "https://")):
            links.append((runbook, f"{alert.name} runbook"))
    payload = page.payload or {}
    context = PageContext(
        action="trigger" if page.action == "fold" else page.action,
        level=payload.get("level"),
        levels=payload.get("levels"),
        cycle=int(payload.get("cycle", 0)),
        policy=payload.get("policy"),
        note=payload.get("note"),
        folded=tuple(int(i) for i in payload.get("folded", [])),
    )
    if page.action == "fold":
        earlier = payload.get("earlier") or {}
        shown = await uow.incidents.get(incident_id=int(earlier.get("incident") or incident.id))
        if shown is not None and shown.id != incident.id:
            facts = (await card_facts(uow.alerts, [shown.id]))[shown.id]
            incident = shown
    return Outgoing(
        page_id=page.id,
        key=page.key,
        channel=page.channel,
        recipient=page.recipient,
        person=page.person,
        action=page.action,
        incident=incident,
        facts=facts,
        context=context,
        threads=threads,
        alert_links=tuple(dict.fromkeys(links))[:5],
        earlier=payload.get("earlier"),
    )


def _what(page: PageRow) -> str:
    who = page.person or page.target
    if page.action == "trigger":
        return f"Page to {who} (level {page.level})"
    if page.action == "breach":
        return f"SLA breach notice to {who}"
    if page.action == "fold":
        return f"Folded into an earlier page to {who}"
    if page.action in ("acknowledge", "resolve"):
        return f"PagerDuty {page.action}"
    return "Notice in the incident's thread"


def _how(page: PageRow) -> str:
    if page.channel == "chat":
        how, _, rest = page.recipient.partition(":")
        platform, _, where = rest.partition(":")
        words = {"dm": "direct message", "post": f"post in {where}", "thread": "thread"}
        return f"{platform.capitalize()} {words.get(how, how)}"
    if page.channel == "email":
        return f"email to {page.recipient.partition(':')[2]}"
    if page.channel == "webhook":
        return f"webhook {page.recipient.partition(':')[2]}"
    return CHANNEL_WORDS.get(page.channel, page.channel)
