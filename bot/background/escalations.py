"""The escalation pass: every open incident episode climbs its policy until someone takes it.

Each pass, in order:

1. stop escalations whose episode was acknowledged, resolved, merged or reopened (and tell
   PagerDuty what became of what it was told);
   restart those whose acknowledgement was taken back (`unack`), as the policy and the
   routing say now, from the first level;
2. start one for every new episode (a reopened incident starts over), as its severity's
   routing and its policy say: page now, wait for business hours, or only post;
3. follow severity changes (a warning that turns critical pages now);
4. fire every level whose time has come: the level's targets become pages in the outbox,
   with unique keys, in the transaction that moves the timer on;
5. record SLA breaches, with their reason, and notify the escalation's targets;
6. send what is due in the outbox (`bot.background.pages`).

The timers are `escalations.next_at` in the database: a restart loses nothing, and several
replicas each fire a level once (rows are taken with FOR UPDATE SKIP LOCKED, pages are
keyed). Every step goes in the incident's timeline.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.background.pages import PageSender
from bot.background.passes import BackgroundPass
from bot.background.recipients import Recipient, RecipientResolver
from bot.metrics import Metrics
from core.escalation import EscalationRules, IncidentFacts, Mode, Policy, decide
from core.incidents import IncidentStatus, display_id
from core.severity import parse_severity
from core.sla import ClockState, SlaRules, clocks
from core.topology import Topology
from core.wording import plural
from knowledge.kinds import kind_of
from skills.moments import in_utc, when
from storage.database import Database
from storage.models import EscalationRow, IncidentRow, PageRow, SlaBreachRow
from storage.uow import UnitOfWork

log = logging.getLogger(__name__)

HOUR = timedelta(hours=1)
# New incidents started per transaction (on SQLite each holds the one writer's lock).
START_BATCH = 25
STOPPED_BY = {
    IncidentStatus.ACKNOWLEDGED.value: "acknowledged",
    IncidentStatus.INVESTIGATING.value: "acknowledged",
    IncidentStatus.MITIGATED.value: "acknowledged",
    IncidentStatus.RESOLVED.value: "resolved",
}


@dataclass
class PassResult:
    started: int = 0
    stopped: int = 0
    fired: int = 0
    breaches: int = 0
    sent: int = 0


class EscalationEngine:
    def __init__(
        self,
        database: Database,
        *,
        rules: EscalationRules,
        sla: SlaRules,
        recipients: RecipientResolver,
        sender: PageSender,
        topology: Callable[[], Topology],
        metrics: Metrics,
        on_change: Callable[[], None],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._database = database
        self.rules = rules
        self._sla = sla
        self._recipients = recipients
        self.sender = sender
        self._topology = topology
        self._on_change = on_change
        self._clock = clock
        self._lock = asyncio.Lock()
        self._background = BackgroundPass(
            "escalation",
            self.run_once,
            interval=rules.check_seconds,
            debounce=0.05,
            metrics=metrics,
        )

    def wake(self) -> None:
        self._background.wake()

    def start(self) -> None:
        self._background.start()

    async def stop(self) -> None:
        await self._background.stop()

    async def run_once(self) -> PassResult:
        """One pass (see the module's docstring); safe to run on every replica at once."""
        async with self._lock:
            result = PassResult()
            now = self._clock()
            await self._recipients.prepare(now)
            result.stopped = await self._stop_overtaken(now)
            result.started = await self._restart_given_back(now)
            result.started += await self._start_new(now)
            await self._regrade(now)
            for _ in range(5):  # a page that keeps failing brings the next level forward
                result.fired += await self._fire_due(now)
                result.breaches += await self._check_sla(now)
                delivery = await self.sender.deliver(now)
                result.sent += delivery.sent
                if not delivery.failed_over:
                    break
            if result.started or result.stopped or result.fired or result.breaches or result.sent:
                self._on_change()
            return result

    # --- 1. stop ---

    async def _stop_overtaken(self, now: datetime) -> int:
        stopped = 0
        async with self._database.unit_of_work() as uow:
            for escalation, incident in await uow.escalations.overtaken():
                if escalation.status in ("active", "deferred", "snoozed", "exhausted"):
                    stopped += 1
                    await self._stop(uow, escalation, incident, now)
                await self._tell_pagerduty(uow, escalation, incident, now)
        return stopped

    async def _stop(
        self, uow: UnitOfWork, escalation: EscalationRow, incident: IncidentRow, now: datetime
    ) -> None:
        same = incident.episode == escalation.episode
        if not same:
            status, why = "resolved", f"episode {escalation.episode} ended"
        elif incident.merged_into is not None:
            status, why = "resolved", f"merged into {display_id(incident.merged_into)}"
        else:
            status = STOPPED_BY.get(incident.status, "resolved")
            who = incident.acknowledged_by if status == "acknowledged" else incident.resolved_by
            why = f"{status} by {who or 'someone'}"
        level = f" at level {escalation.reached}" if escalation.reached else ""
        escalation.status = status
        escalation.next_at = None
        escalation.reason = why
        escalation.updated_at = now
        for page in await uow.pages.pending_for(escalation_id=escalation.id):
            if page.action in ("trigger", "fold"):
                page.status = "cancelled"
                page.last_error = f"not sent: {why} first"
                page.updated_at = now
        await uow.incidents.add_event(
            incident_id=incident.id,
            kind="escalation",
            text=f"Escalation stopped{level}: {why}",
            at=now,
            data={"episode": escalation.episode, "status": status},
        )
        if same:
            incident.revision += 1

    async def _tell_pagerduty(
        self, uow: UnitOfWork, escalation: EscalationRow, incident: IncidentRow, now: datetime
    ) -> None:
        """PagerDuty learns of an acknowledgement or a resolution made elsewhere."""
        if escalation.pagerduty not in ("triggered", "acknowledged"):
            return
        ended = incident.episode != escalation.episode or incident.status == "resolved"
        action = "resolve" if ended else "acknowledge"
        if action == "acknowledge" and escalation.pagerduty == "acknowledged":
            return
        sent = [
            page
            for page in await uow.pages.of_episode(
                incident_id=incident.id, episode=escalation.episode
            )
            if page.channel == "pagerduty" and page.action == "trigger" and page.status == "sent"
        ]
        for recipient in sorted({page.recipient for page in sent}):
            await uow.pages.add(
                _page(
                    key=f"pd:{escalation.id}:{action}:{recipient}",
                    incident=incident,
                    episode=escalation.episode,
                    escalation=escalation,
                    recipient=Recipient("pagerduty", recipient, None, "pagerduty"),
                    action=action,
                    kind="",
                    now=now,
                )
            )
        escalation.pagerduty = "resolved" if ended else "acknowledged"
        escalation.updated_at = now

    async def _restart_given_back(self, now: datetime) -> int:
        restarted = 0
        async with self._database.unit_of_work() as uow:
            for escalation, incident in await uow.escalations.given_back():
                decision = decide(self.rules, await self._facts(uow, incident), now)
                escalation.policy = decision.policy.name if decision.policy else None
                escalation.severity = incident.severity
                escalation.level = escalation.cycle = 0
                escalation.base_at = None
                escalation.next_at = None
                escalation.status = decision.mode.value
                escalation.reason = decision.reason
                escalation.updated_at = now
                if decision.mode is Mode.PAGE:
                    assert decision.policy is not None
                    escalation.status = "active"
                    escalation.base_at = now
                    escalation.next_at = decision.policy.due(level=0, cycle=0, base=now)
                elif decision.mode is Mode.DEFER:
                    escalation.status = "deferred"
                    escalation.next_at = decision.start
                if escalation.status in ("active", "deferred") and (
                    escalation.snoozed_until is not None and escalation.snoozed_until > now
                ):
                    escalation.status = "snoozed"
                    escalation.next_at = max(escalation.next_at or now, escalation.snoozed_until)
                if not self.rules.policies or escalation.status == "none":
                    continue  # escalation is not in use for it: nothing to say or show
                restarted += 1
                await uow.incidents.add_event(
                    incident_id=incident.id,
                    kind="escalation",
                    text=f"Escalation restarted (acknowledgement taken back): {decision.reason}",
                    at=now,
                    data={"episode": incident.episode, "status": escalation.status},
                )
                incident.revision += 1
        return restarted

    # --- 2. start ---

    async def _facts(self, uow: UnitOfWork, incident: IncidentRow) -> IncidentFacts:
        service = self._topology().get(incident.service)
        labels = await uow.alerts.label_sets(incident_id=incident.id, limit=50)
        return IncidentFacts(
            service=incident.service,
            team=service.team if service is not None else None,
            severity=parse_severity(incident.severity),
            labels=labels,
            project=incident.project,
        )

    async def _start_new(self, now: datetime) -> int:
        """Start every new episode's escalation, `START_BATCH` per transaction."""
        started = 0
        while True:
            count, more = await self._start_batch(now)
            started += count
            if not more:
                return started

    async def _start_batch(self, now: datetime) -> tuple[int, bool]:
        started = 0
        async with self._database.unit_of_work() as uow:
            incidents = await uow.escalations.unstarted(limit=START_BATCH)
            for incident in incidents:
                facts = await self._facts(uow, incident)
                decision = decide(self.rules, facts, incident.opened_at)
                row = EscalationRow(
                    incident_id=incident.id,
                    episode=incident.episode,
                    policy=decision.policy.name if decision.policy else None,
                    status=decision.mode.value,
                    severity=incident.severity,
                    level=0,
                    cycle=0,
                    reached=0,
                    paged={},
                    base_at=None,
                    next_at=None,
                    reason=decision.reason,
                    silences={},
                    created_at=now,
                    updated_at=now,
                )
                if decision.mode is Mode.PAGE:
                    row.status = "active"
                    row.base_at = incident.opened_at
                    assert decision.policy is not None
                    row.next_at = decision.policy.due(level=0, cycle=0, base=incident.opened_at)
                elif decision.mode is Mode.DEFER:
                    row.status = "deferred"
                    row.next_at = decision.start
                if incident.status != IncidentStatus.TRIGGERED.value:
                    row.status, row.next_at = "acknowledged", None
                    row.reason = "taken before it was paged"
                elif row.status in ("active", "deferred"):
                    await self._carry_snooze(uow, row, incident, now)
                if not await uow.escalations.start(row):
                    continue
                if not self.rules.policies or row.status == "none":
                    continue  # escalation is not in use for it: nothing to say or show
                started += 1
                await uow.incidents.add_event(
                    incident_id=incident.id,
                    kind="escalation",
                    text=f"Escalation: {row.reason}",
                    at=now,
                    data={"episode": incident.episode, "status": row.status},
                )
                incident.revision += 1
        return started, len(incidents) == START_BATCH

    async def _carry_snooze(
        self, uow: UnitOfWork, row: EscalationRow, incident: IncidentRow, now: datetime
    ) -> None:
        """A snooze outlives a reopening: the new episode waits for its end too."""
        earlier = await uow.escalations.previous(
            incident_id=incident.id, before_episode=incident.episode
        )
        if earlier is None or earlier.snoozed_until is None or earlier.snoozed_until <= now:
            return
        row.snoozed_until, row.snoozed_by = earlier.snoozed_until, earlier.snoozed_by
        row.silences = dict(earlier.silences or {})
        if row.status == "active" and row.next_at is not None:
            row.base_at = earlier.snoozed_until
            row.next_at = max(row.next_at, earlier.snoozed_until)
        row.status = "snoozed"
        until = in_utc(when(earlier.snoozed_until, now))
        row.reason = f"snoozed by {earlier.snoozed_by} until {until}"

    # --- 3. severity changes ---

    async def _regrade(self, now: datetime) -> None:
        async with self._database.unit_of_work() as uow:
            for escalation, incident in await uow.escalations.regraded():
                before = parse_severity(escalation.severity)
                escalation.severity = incident.severity
                if parse_severity(incident.severity) <= before:
                    continue
                decision = decide(self.rules, await self._facts(uow, incident), now)
                if decision.mode is not Mode.PAGE or decision.policy is None:
                    continue
                if escalation.status == "active" and escalation.policy == decision.policy.name:
                    continue
                escalation.policy = decision.policy.name
                escalation.status = "active"
                escalation.level = escalation.cycle = 0
                escalation.base_at = now
                escalation.next_at = now
                escalation.reason = f"severity rose to {incident.severity}: {decision.reason}"
                escalation.updated_at = now
                await uow.incidents.add_event(
                    incident_id=incident.id,
                    kind="escalation",
                    text=f"Escalation: {escalation.reason}",
                    at=now,
                    data={"episode": incident.episode},
                )

    # --- 4. levels ---

    async def _fire_due(self, now: datetime) -> int:
        fired = 0
        async with self._database.unit_of_work() as uow:
            for escalation in await uow.escalations.due(now=now):
                incident = await uow.incidents.get(
                    incident_id=escalation.incident_id, for_update=True
                )
                if (
                    incident is None
                    or incident.episode != escalation.episode
                    or incident.status != IncidentStatus.TRIGGERED.value
                ):
                    continue  # the next pass stops it
                policy = self.rules.policy(escalation.policy or "")
                if policy is None:
                    escalation.status, escalation.next_at = "none", None
                    escalation.reason = f"policy {escalation.policy} is no longer configured"
                    continue
                if escalation.status == "exhausted":
                    await self._exhausted(uow, escalation, incident, policy, now)
                    fired += 1
                    continue
                if escalation.status == "deferred":
                    escalation.base_at = escalation.next_at or now
                    escalation.level = escalation.cycle = 0
                escalation.status = "active"
                await self._fire(uow, escalation, incident, policy, now)
                fired += 1
        return fired

    async def _fire(
        self,
        uow: UnitOfWork,
        escalation: EscalationRow,
        incident: IncidentRow,
        policy: Policy,
        now: datetime,
    ) -> None:
        index, cycle = escalation.level, escalation.cycle
        level = policy.levels[index]
        # Counts every firing, so a level paged again (after a snooze) gets pages of its own.
        fires = int((escalation.paged or {}).get("fires", 0)) + 1
        found = await self._recipients.resolve(level.targets, now)
        kind = await self._kind(uow, incident)
        limit = self.rules.rate_limit.per_hour
        recent = await uow.pages.counted_since(kind=kind, since=now - HOUR) if limit else 0
        folded = limit is not None and recent >= limit
        context = {
            "level": index + 1,
            "levels": len(policy.levels),
            "cycle": cycle,
            "policy": policy.name,
        }
        for recipient in found.recipients:
            page = _page(
                key=f"e{escalation.id}:f{fires}:l{index}:{recipient.channel}:{recipient.address}",
                incident=incident,
                episode=escalation.episode,
                escalation=escalation,
                recipient=recipient,
                action="trigger",
                kind=kind,
                now=now,
                level=index + 1,
                payload=context,
            )
            if folded:
                await self._fold(uow, page, kind, now)
            await uow.pages.add(page)
        people = sorted({r.person for r in found.recipients if r.person})
        machines = sorted({r.label for r in found.recipients if not r.person})
        listed = ", ".join([*people, *machines]) or "nobody"
        repeat = f", repeat {cycle}" if cycle else ""
        text = f"Level {index + 1} of {len(policy.levels)}{repeat} (policy {policy.name}): "
        text += f"paging {listed}" if not folded else f"folded ({listed})"
        if folded:
            text += f" — {recent} notifications in the last hour for {kind} (limit {limit}/h)"
        for problem in found.problems:
            text += f"; ⚠ {problem}"
        await uow.incidents.add_event(
            incident_id=incident.id,
            kind="escalation",
            text=text,
            at=now,
            data={
                "episode": escalation.episode,
                "level": index + 1,
                "cycle": cycle,
                "targets": [str(t) for t in level.targets],
                "recipients": [r.describe() for r in found.recipients],
                "problems": found.problems,
                "folded": folded,
            },
        )
        escalation.reached = index + 1
        escalation.paged = {
            "level": index + 1,
            "levels": len(policy.levels),
            "cycle": cycle,
            "people": people,
            "machines": machines,
            "folded": folded,
            "problems": found.problems,
            "at": now.isoformat(),
            "fires": fires,
        }
        following = policy.after_level(index, cycle)
        base = escalation.base_at or now
        if following is None:
            escalation.status = "exhausted"
            escalation.next_at = policy.due(level=0, cycle=cycle + 1, base=base)
        else:
            escalation.level, escalation.cycle = following
            escalation.next_at = policy.due(level=following[0], cycle=following[1], base=base)
            if found.problems or not found.recipients:
                escalation.next_at = now  # nobody could be reached here: go on at once
        escalation.updated_at = now
        incident.revision += 1

    async def _fold(self, uow: UnitOfWork, page: PageRow, kind: str, now: datetime) -> None:
        """Over the rate limit: no new message; the last page of this kind to the same
        recipient is edited to name this incident too (chat), or the page is recorded only."""
        earlier = await uow.pages.latest_sent(kind=kind, recipient=page.recipient, since=now - HOUR)
        page.payload = {**page.payload, "into": earlier.id if earlier else None}
        if earlier is not None and page.channel == "chat" and earlier.result.get("message_id"):
            folded = [*earlier.payload.get("folded", []), page.incident_id]
            earlier.payload = {**earlier.payload, "folded": folded}
            page.action = "fold"
            page.payload = {
                **page.payload,
                "folded": folded,
                "earlier": {
                    "page": earlier.id,
                    "channel": earlier.result.get("channel"),
                    "message_id": earlier.result.get("message_id"),
                    "incident": earlier.incident_id,
                },
            }
        else:
            page.status = "folded"

    async def _exhausted(
        self,
        uow: UnitOfWork,
        escalation: EscalationRow,
        incident: IncidentRow,
        policy: Policy,
        now: datetime,
    ) -> None:
        """The last level had its time and nobody acknowledged: say so in the incident's
        thread, once (once more if a snooze ran out and the last level was paged again).
        The escalation stays untaken (an acknowledgement still stops it) with no timer left."""
        escalation.next_at = None
        escalation.updated_at = now
        incident.revision += 1
        passes = policy.repeat + 1
        note = (
            f"Nobody acknowledged {display_id(incident.id)}: policy {policy.name} went through "
            f"its {plural(len(policy.levels), 'level')} {plural(passes, 'time')}."
        )
        await uow.incidents.add_event(
            incident_id=incident.id, kind="escalation", text=note, at=now, data={}
        )
        fires = int((escalation.paged or {}).get("fires", 0))
        await self.notice(uow, incident, escalation, note, key=f"exhausted:{fires}", now=now)

    async def notice(
        self,
        uow: UnitOfWork,
        incident: IncidentRow,
        escalation: EscalationRow | None,
        note: str,
        *,
        key: str,
        now: datetime,
    ) -> None:
        """A visible word in the incident's thread on every chat platform."""
        for platform in self._recipients.chat_platforms:
            await uow.pages.add(
                _page(
                    key=f"n:{incident.id}:{incident.episode}:{key}:{platform}",
                    incident=incident,
                    episode=incident.episode,
                    escalation=escalation,
                    recipient=Recipient("chat", f"thread:{platform}", None, platform),
                    action="notice",
                    kind="",
                    now=now,
                    payload={"note": note},
                )
            )

    async def _kind(self, uow: UnitOfWork, incident: IncidentRow) -> str:
        briefs = await uow.alerts.briefs(incident_ids=[incident.id])
        return kind_of(incident.service, briefs.get(incident.id, []))

    # --- 5. SLA ---

    async def _check_sla(self, now: datetime) -> int:
        if not self._sla.targets:
            return 0
        recorded = 0
        async with self._database.unit_of_work() as uow:
            incidents = await uow.incidents.find(status="open", limit=500)
            if not incidents:
                return 0
            known = {
                (b.incident_id, b.episode, b.clock)
                for b in await uow.escalations.breaches_of(incident_ids=[i.id for i in incidents])
            }
            escalations = await uow.escalations.current(incidents=incidents)
            for incident in incidents:
                for state in clocks(
                    self._sla,
                    severity=incident.severity,
                    service=incident.service,
                    opened_at=incident.opened_at,
                    acknowledged_at=incident.acknowledged_at,
                    resolved_at=incident.resolved_at,
                    now=now,
                ):
                    if not state.breached or (incident.id, incident.episode, state.clock) in known:
                        continue
                    escalation = escalations.get(incident.id)
                    reason = breach_reason(state, incident, escalation)
                    row = SlaBreachRow(
                        incident_id=incident.id,
                        episode=incident.episode,
                        clock=state.clock,
                        target=state.target.name,
                        due_at=state.due,
                        breached_at=now,
                        reason=reason,
                    )
                    if not await uow.escalations.record_breach(row):
                        continue
                    recorded += 1
                    await self._breached(uow, incident, escalation, state, reason, now)
        return recorded

    async def _breached(
        self,
        uow: UnitOfWork,
        incident: IncidentRow,
        escalation: EscalationRow | None,
        state: ClockState,
        reason: str,
        now: datetime,
    ) -> None:
        label = "time to acknowledge" if state.clock == "mtta" else "time to resolve"
        text = f"SLA breach ({label}, {state.target.name}): {reason}"
        await uow.incidents.add_event(
            incident_id=incident.id,
            kind="sla_breach",
            text=text,
            at=now,
            data={"clock": state.clock, "due": state.due.isoformat(), "episode": incident.episode},
        )
        incident.revision += 1
        policy = self.rules.policy(escalation.policy or "") if escalation is not None else None
        if policy is None or escalation is None:
            await self.notice(uow, incident, escalation, f"⏰ {text}", key=state.clock, now=now)
            return
        index = _level_at(policy.levels, escalation.base_at or state.due, state.due)
        found = await self._recipients.resolve(policy.levels[index].targets, now)
        # PagerDuty keeps its own clocks; a second trigger would only repeat the page.
        found.recipients = [r for r in found.recipients if r.channel != "pagerduty"]
        for recipient in found.recipients:
            await uow.pages.add(
                _page(
                    key=f"sla:{incident.id}:{incident.episode}:{state.clock}:{recipient.channel}:"
                    f"{recipient.address}",
                    incident=incident,
                    episode=incident.episode,
                    escalation=escalation,
                    recipient=recipient,
                    action="breach",
                    kind=await self._kind(uow, incident),
                    now=now,
                    payload={"note": f"{label} — {reason}", "policy": policy.name},
                )
            )
        if not found.recipients:
            await self.notice(uow, incident, escalation, f"⏰ {text}", key=state.clock, now=now)


def _level_at(levels: Sequence[Any], base_at: datetime, at: datetime) -> int:
    """The index of the policy level current at `at` (the last one due by then): a breach
    goes to whoever was being paged when the clock ran out, whatever the passes that ran
    since (and on which replica) have reached."""
    due = [index for index, level in enumerate(levels) if base_at + level.after <= at]
    return due[-1] if due else 0


def breach_reason(
    state: ClockState, incident: IncidentRow, escalation: EscalationRow | None
) -> str:
    """Why the clock ran out, in one sentence from what Lookout knows of the episode."""
    limit = state.target.limit(state.clock)
    within = f"within {limit}" if limit is not None else ""
    if state.clock == "mttr":
        who = incident.acknowledged_by
        taken = f"; acknowledged by {who}" if who else "; never acknowledged"
        return f"not resolved {within}{taken}"
    if state.stopped_at is not None:
        return (
            f"acknowledged by {incident.acknowledged_by or 'someone'} after the target ({within})"
        )
    parts = [f"not acknowledged {within}"]
    if escalation is None:
        parts.append("no escalation had started")
    elif escalation.status in ("post", "none"):
        parts.append(escalation.reason)
    elif escalation.status == "snoozed" or (
        escalation.snoozed_until is not None and escalation.snoozed_until > state.now
    ):
        parts.append(f"snoozed by {escalation.snoozed_by}")
    elif escalation.status == "deferred":
        parts.append(escalation.reason)
    else:
        paged: dict[str, Any] = escalation.paged or {}
        who = ", ".join([*paged.get("people", []), *paged.get("machines", [])]) or "nobody"
        parts.append(f"paged {who} (level {paged.get('level', 0)} of {paged.get('levels', '?')})")
        for problem in paged.get("problems", [])[:2]:
            parts.append(problem)
        if paged.get("folded"):
            parts.append("the page was folded by the rate limit")
    return "; ".join(part for part in parts if part)


def _page(
    *,
    key: str,
    incident: IncidentRow,
    episode: int,
    escalation: EscalationRow | None,
    recipient: Recipient,
    action: str,
    kind: str,
    now: datetime,
    level: int | None = None,
    payload: dict[str, Any] | None = None,
) -> PageRow:
    return PageRow(
        key=key[:255],
        incident_id=incident.id,
        episode=episode,
        escalation_id=escalation.id if escalation is not None else None,
        level=level,
        target=recipient.target,
        channel=recipient.channel,
        recipient=recipient.address,
        person=recipient.person,
        action=action,
        kind=kind,
        status="pending",
        attempts=0,
        next_attempt_at=now,
        failed_over=False,
        payload=payload or {},
        result={},
        created_at=now,
        updated_at=now,
    )
