"""`snooze [incident] <duration>|off`: stop re-notifying about an incident for a while.

While snoozed, no level fires; when the snooze ends and nobody has acknowledged, the last
level reached is paged again and the policy goes on from there (as PagerDuty's snooze).
A reopening within the snooze stays quiet too. With ALERTMANAGER_URL, each firing alert of
the incident gets an Alertmanager silence that ends with the snooze.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from pydantic import BaseModel, Field

from core.escalation import parse_duration, spoken_duration
from core.incidents import IncidentStatus, display_id
from core.wording import plural
from integrations.alertmanager import AlertmanagerError, SilenceClient, matchers_for
from skills.context import Answer, Outside, SkillContext
from skills.contract import Reply, Role
from skills.errors import ConflictError, UsageError
from skills.grammar import Positional
from skills.lookups import load_incident
from skills.moments import in_utc, when
from skills.registry import Skill
from storage.models import EscalationRow

USAGE = "Usage: `snooze [incident] <duration>` (e.g. `snooze INC-4 1h`) or `snooze [incident] off`."
LONGEST = timedelta(days=7)
MAX_SILENCES = 20


class SnoozeArgs(BaseModel):
    incident: Annotated[str | None, Positional(incident=True)] = Field(
        default=None, description="incident id (INC-42); defaults to the thread's incident"
    )
    duration: Annotated[str, Positional()] = Field(
        max_length=20, description="how long (30m, 2h, up to 7d), or off to end the snooze"
    )


class SnoozeSkill(Skill[SnoozeArgs]):
    verb = "snooze"
    summary = "Stop re-notifying about an incident for a while (and silence its alerts)."
    role = Role.RESPONDER
    args_model = SnoozeArgs

    async def handle(self, ctx: SkillContext, args: SnoozeArgs) -> Answer:
        rest = [args.duration]
        incident = await load_incident(ctx, args.incident)
        ref = display_id(incident.id)
        if incident.status == IncidentStatus.RESOLVED:
            raise ConflictError(f"{ref} is resolved; there is nothing to snooze.")
        if ctx.escalations is None:
            raise ConflictError("Escalation is not available here.")
        escalation = await ctx.escalations.of_episode(
            incident_id=incident.id, episode=incident.episode
        )
        if escalation is None:
            raise ConflictError(f"{ref}'s escalation is being set up; try again in a moment.")
        who = ctx.actor.display_name
        if rest[0].lower() in ("off", "end", "stop"):
            return await self._wake(ctx, incident.id, escalation, ref, who)
        try:
            span = parse_duration(rest[0])
        except ValueError:
            raise UsageError(USAGE) from None
        if not timedelta(minutes=1) <= span <= LONGEST:
            raise UsageError("A snooze lasts from 1m to 7d.")
        until = ctx.now + span
        escalation.snoozed_until, escalation.snoozed_by = until, who
        escalation.updated_at = ctx.now
        self._hold(ctx, escalation, until)
        text = (
            f"Snoozed by {who} for {spoken_duration(span)} (until {in_utc(when(until, ctx.now))})"
        )
        await ctx.incidents.add_event(
            incident_id=incident.id,
            kind="snoozed",
            text=text,
            at=ctx.now,
            actor=who,
            data={"until": until.isoformat(), "episode": incident.episode},
        )
        ctx.incident_changed(incident)
        answer = f"🔕 {ref} snoozed until {when(until, ctx.now)} ({spoken_duration(span)})"
        if incident.status == IncidentStatus.TRIGGERED:
            answer += (
                ": no re-notification until then; if nobody has taken it by then, paging resumes"
            )
        answer += "."
        client = ctx.tools.silences
        if client is None:
            return Reply.text(answer, incident_id=incident.id)
        wanted = await _matchers(ctx, incident.id)
        incident_id, episode, now = incident.id, incident.episode, ctx.now

        async def silence() -> tuple[list[str], str | None]:
            # Alertmanager is called with no transaction open.
            return await _silence(client, wanted, now, until, who, ref)

        async def then(ctx: SkillContext, found: tuple[list[str], str | None]) -> Answer:
            silenced, problem = found
            text = answer
            if silenced:
                row = (
                    await ctx.escalations.of_episode(incident_id=incident_id, episode=episode)
                    if ctx.escalations is not None
                    else None
                )
                if row is not None:
                    row.silences = {"ids": silenced, "until": until.isoformat()}
                await ctx.incidents.add_event(
                    incident_id=incident_id,
                    kind="snoozed",
                    text=f"{plural(len(silenced), 'Alertmanager silence')} until "
                    f"{in_utc(when(until, now))}",
                    at=now,
                    actor=who,
                    data={"silences": silenced, "episode": episode},
                )
                text += f" Alertmanager silences {len(silenced)} of its alerts until then."
            if problem:
                text += f" {problem}"
            return Reply.text(text, incident_id=incident_id)

        return Outside(call=silence, then=then)

    def _hold(self, ctx: SkillContext, escalation: EscalationRow, until: datetime) -> None:
        """Move a running escalation's timer to the snooze's end, to page again the level
        last reached (or the next one, if none was)."""
        if escalation.status not in ("active", "exhausted", "deferred", "snoozed"):
            return
        rules = ctx.tools.escalation
        policy = rules.policy(escalation.policy or "") if rules is not None else None
        if policy is not None and escalation.reached:
            level = escalation.reached - 1
            cycle = int((escalation.paged or {}).get("cycle", 0))
            escalation.level, escalation.cycle = level, cycle
            escalation.base_at = until - policy.levels[level].after - policy.period * cycle
        elif policy is not None and escalation.status != "deferred":
            escalation.base_at = until - policy.levels[escalation.level].after
        else:
            escalation.base_at = until
        escalation.status = "snoozed"
        escalation.next_at = until

    async def _wake(
        self, ctx: SkillContext, incident_id: int, escalation: EscalationRow, ref: str, who: str
    ) -> Answer:
        if escalation.snoozed_until is None or escalation.snoozed_until <= ctx.now:
            raise ConflictError(f"{ref} is not snoozed.")
        escalation.snoozed_until = ctx.now
        if escalation.status == "snoozed":
            escalation.next_at = ctx.now
        ids = [str(i) for i in (escalation.silences or {}).get("ids", [])]
        escalation.silences = {}
        await ctx.incidents.add_event(
            incident_id=incident_id,
            kind="snoozed",
            text=f"Snooze ended by {who}",
            at=ctx.now,
            actor=who,
            data={"silences": ids},
        )
        incident = await ctx.incidents.get(incident_id=incident_id)
        if incident is not None:
            ctx.incident_changed(incident)
        answer = f"🔔 {ref} is no longer snoozed."
        client = ctx.tools.silences
        if client is None or not ids:
            return Reply.text(answer, incident_id=incident_id)

        async def expire() -> int:
            expired = 0
            for silence_id in ids:
                try:
                    await client.expire(silence_id)
                    expired += 1
                except AlertmanagerError:
                    pass
            return expired

        async def then(ctx: SkillContext, expired: int) -> Answer:
            text = answer + (
                f" {plural(expired, 'Alertmanager silence')} expired." if expired else ""
            )
            return Reply.text(text, incident_id=incident_id)

        return Outside(call=expire, then=then)


async def _matchers(ctx: SkillContext, incident_id: int) -> list[list[dict[str, Any]]]:
    """Alertmanager matchers for each firing alert of the incident (one per fingerprint)."""
    alerts = await ctx.alerts.for_incident(incident_id=incident_id)
    found: list[list[dict[str, Any]]] = []
    seen: set[str] = set()
    for alert in alerts:
        if alert.status != "firing" or alert.fingerprint in seen:
            continue
        seen.add(alert.fingerprint)
        matchers = matchers_for(alert.labels or {})
        if matchers:
            found.append(matchers)
    return found


async def _silence(
    client: SilenceClient,
    wanted: list[list[dict[str, Any]]],
    now: datetime,
    until: datetime,
    who: str,
    ref: str,
) -> tuple[list[str], str | None]:
    """Create the silences (at most `MAX_SILENCES`); their ids, and a note when some failed."""
    created: list[str] = []
    for matchers in wanted[:MAX_SILENCES]:
        try:
            created.append(
                await client.create(
                    matchers=matchers,
                    starts_at=now,
                    ends_at=until,
                    created_by=f"Lookout ({who})",
                    comment=f"{ref} snoozed by {who} in Lookout",
                )
            )
        except AlertmanagerError as error:
            return created, f"Alertmanager did not take every silence: {error}."
    left = len(wanted) - len(created)
    note = f"{left} more alerts were not silenced (at most {MAX_SILENCES})." if left > 0 else None
    return created, note
