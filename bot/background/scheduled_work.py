"""What the scheduler's jobs do: run a report (a skill invocation whose answer the notifier
posts to the schedule's channel) or evaluate Lookout's own signals — SLO burn rates,
capacity forecasts, Prometheus checks — and send them through ingestion as alerts.

Every run first claims its (job, scheduled time) row; a replica that loses the claim does
nothing. Evaluations keep two days of runs; reports keep theirs (they hold the answer).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from bot.background.scheduler import JobSpec
from bot.background.signals import (
    CAPACITY_RECEIVER,
    CHECKS_RECEIVER,
    SLO_RECEIVER,
    Evaluation,
    Signal,
    send,
)
from bot.schedule_config import ScheduleEntry
from core.alerts import Alert
from core.capacity_rules import CapacityRules
from core.check_rules import PromCheck
from core.slo import Slo
from core.wording import plural
from integrations.capacity import CapacityReader
from integrations.checks import CheckRunner
from integrations.prometheus import PrometheusError
from integrations.slo import SloReader
from skills.contract import Actor, Conversation, Reply
from skills.formatting import duration
from skills.reply_codec import encode
from storage.database import Database

log = logging.getLogger(__name__)

SCHEDULER_ACTOR = Actor(platform="scheduler", user_id="lookout-scheduler", display_name="Lookout")
KEEP_EVALUATIONS = timedelta(days=2)
SLO_JOB = "slo:burn-rates"
CAPACITY_JOB = "capacity:forecast"
PAGE_SEVERITIES = {"page": "critical", "ticket": "warning"}

RunCommand = Callable[[str, Actor, Conversation], Awaitable[Reply]]
Accept = Callable[[list[Alert]], Awaitable[object]]


@dataclass
class ScheduledWork:
    """The process's `JobRunner`."""

    database: Database
    run_command: RunCommand
    accept: Accept
    on_report: Callable[[], None]
    reports: dict[str, ScheduleEntry] = field(default_factory=dict)
    slo: SloReader | None = None
    capacity: CapacityReader | None = None
    checks: CheckRunner | None = None
    check_rules: dict[str, PromCheck] = field(default_factory=dict)
    slo_minutes: float = 1.0
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    def specs(self) -> list[JobSpec]:
        """Every job the configuration asks for."""
        specs = [
            JobSpec(job_id, entry.skill, entry.trigger(), entry.channel)
            for job_id, entry in self.reports.items()
        ]
        if self.slo is not None and self.slo.slos:
            specs.append(JobSpec.every(SLO_JOB, "SLO burn-rate rules", self.slo_minutes))
        if self.capacity is not None and self.capacity.resources:
            minutes = self.capacity.rules.evaluate_minutes
            specs.append(JobSpec.every(CAPACITY_JOB, "capacity forecasts", minutes))
        for name, check in self.check_rules.items():
            specs.append(JobSpec.every(_check_job(name), f"check: {name}", check.every_minutes))
        return specs

    async def run(self, job_id: str, scheduled_for: datetime) -> None:
        report = self.reports.get(job_id)
        now = self.clock()
        async with self.database.unit_of_work() as uow:
            row = await uow.schedules.claim(
                job=job_id,
                scheduled_for=scheduled_for,
                now=now,
                channel=report.channel if report else None,
                channels=report.channels if report else None,
            )
            if report is None:
                await uow.schedules.prune(jobs=[job_id], before=now - KEEP_EVALUATIONS)
        if row is None:
            log.info(
                "another replica runs this", extra={"job": job_id, "at": scheduled_for.isoformat()}
            )
            return
        run_id = row.id
        try:
            if report is not None:
                reply = await self._report(report)
                outcome, detail, body = "ok", reply.plain_text[:500], encode(reply)
            else:
                detail = await self._evaluate(job_id, scheduled_for)
                outcome, body = "ok", None
        except Exception as error:
            log.exception("scheduled job failed", extra={"job": job_id})
            outcome, detail, body = "error", repr(error), None
        async with self.database.unit_of_work() as uow:
            await uow.schedules.finish(
                run_id=run_id, outcome=outcome, now=self.clock(), detail=detail, reply=body
            )
        if body is not None:
            self.on_report()

    async def _report(self, entry: ScheduleEntry) -> Reply:
        conversation = Conversation(
            platform="scheduler", channel=entry.channel, project=entry.project
        )
        reply = await self.run_command(entry.skill, SCHEDULER_ACTOR, conversation)
        reply.visibility = "channel"
        reply.incident_id = None
        return reply

    async def _evaluate(self, job_id: str, now: datetime) -> str:
        if job_id == SLO_JOB and self.slo is not None:
            evaluation = await slo_signals(self.slo, now=now)
            receiver, subject = SLO_RECEIVER, _slo_subject
        elif job_id == CAPACITY_JOB and self.capacity is not None:
            evaluation = await capacity_signals(self.capacity, now=now)
            receiver, subject = CAPACITY_RECEIVER, _capacity_subject
        elif job_id.startswith("check:") and self.checks is not None:
            check = self.check_rules.get(job_id.removeprefix("check:"))
            if check is None:
                return "no such check any more"
            evaluation = await check_signals(self.checks, [check], now=now)
            receiver, subject = CHECKS_RECEIVER, _check_subject
        else:
            return "nothing to do"
        await send(
            self.database,
            self.accept,
            receiver=receiver,
            subject_of=subject,
            evaluation=evaluation,
            now=now,
        )
        if evaluation.problems:
            log.warning(
                "an evaluation went partly unanswered",
                extra={"job": job_id, "problems": evaluation.problems[:5]},
            )
        return evaluation.summary()


def _check_job(name: str) -> str:
    return f"check:{name}"


def _slo_subject(labels: dict[str, str]) -> str:
    return f"{labels.get('sloth_service')}/{labels.get('sloth_slo')}"


def _capacity_subject(labels: dict[str, str]) -> str:
    return labels.get("resource", "")


def _check_subject(labels: dict[str, str]) -> str:
    return labels.get("check", "")


# --- evaluations ---


async def slo_signals(reader: SloReader, *, now: datetime) -> Evaluation:
    """One alert per SLO and severity (page, ticket) whose burn-rate rule fires."""
    answers = await asyncio.gather(
        *(reader.read(slo, now=now) for slo in reader.slos), return_exceptions=True
    )
    signals: list[Signal] = []
    judged: set[str] = set()
    problems: list[str] = []
    for slo, answer in zip(reader.slos, answers, strict=True):
        if isinstance(answer, PrometheusError):
            problems.append(f"{slo.key}: {answer}")
            continue
        if isinstance(answer, BaseException):
            raise answer
        judged.add(slo.key)
        for severity in ("page", "ticket"):
            firing = [v for v in answer.verdicts if v.firing and v.rule.severity == severity]
            if not firing or severity in slo.disabled:
                continue
            worst = max(firing, key=lambda v: v.long_burn / v.rule.factor)
            signals.append(
                _slo_signal(
                    slo,
                    severity,
                    worst.long_burn,
                    worst.rule.describe(),
                    answer.budget.budget_remaining,
                )
            )
    return Evaluation(signals, judged, problems)


def _slo_signal(slo: Slo, severity: str, burn: float, rule: str, remaining: float | None) -> Signal:
    labels = {**slo.labels, **slo.alert_labels.get(severity, {})}
    given = labels.get("severity", "")
    labels.update(
        {
            "alertname": slo.alert_name,
            "service": slo.service,
            "sloth_service": slo.service,
            "sloth_slo": slo.name,
            "sloth_severity": severity,
            # Sloth files often carry routing words (`pageteam`, `slack`) as severity.
            "severity": given
            if given in ("critical", "error", "warning", "info")
            else PAGE_SEVERITIES[severity],
        }
    )
    budget = "" if remaining is None else f"; {remaining * 100:.1f} % of the budget left"
    summary = f"{slo.service} {slo.name}: error budget burning {burn:.1f}× ({rule}){budget}"
    annotations = {
        **slo.annotations,
        "summary": slo.annotations.get("summary", summary),
        "description": summary,
    }
    return Signal(labels, annotations, group_key=f"slo:{slo.key}")


async def capacity_signals(reader: CapacityReader, *, now: datetime) -> Evaluation:
    """One low-severity alert per resource predicted to reach its alert level within the
    critical horizon: "db-1 disk reaches 90 % in ~6 days"."""
    rules: CapacityRules = reader.rules
    answers = await asyncio.gather(
        *(reader.read(resource, now=now) for resource in reader.resources),
        return_exceptions=True,
    )
    signals: list[Signal] = []
    judged: set[str] = set()
    problems: list[str] = []
    for resource, answer in zip(reader.resources, answers, strict=True):
        if isinstance(answer, PrometheusError):
            problems.append(f"{resource.name}: {answer}")
            continue
        if isinstance(answer, BaseException):
            raise answer
        if answer.forecast is None:
            problems.append(f"{resource.name}: {answer.problem}")
            continue
        judged.add(resource.name)
        if answer.status != "critical":
            continue
        crossing = answer.crossing(rules.alert_level)
        when = crossing.at if crossing is not None else None
        if when is None:
            continue
        left = when - now.timestamp()
        days = max(left / 86400, 0)
        level = f"{rules.alert_level * 100:g} %"
        summary = (
            f"{resource.name} reaches {level} in ~{_days(days)}"
            if left > 0
            else f"{resource.name} is above {level}"
        )
        signals.append(
            Signal(
                labels={
                    "alertname": "CapacityForecast",
                    "service": resource.service or resource.name,
                    "resource": resource.name,
                    "severity": rules.incident_severity,
                },
                annotations={
                    "summary": summary,
                    "description": f"{summary} (forecast: {answer.forecast.method}).",
                },
                group_key=f"capacity:{resource.name}",
            )
        )
    return Evaluation(signals, judged, problems)


def _days(days: float) -> str:
    if days < 1:
        return duration(timedelta(days=days))
    return plural(round(days), "day")


async def check_signals(
    runner: CheckRunner, checks: Sequence[PromCheck], *, now: datetime
) -> Evaluation:
    """One alert per deviating series of each check."""
    signals: list[Signal] = []
    judged: set[str] = set()
    problems: list[str] = []
    for check in checks:
        try:
            deviations = await runner.run(check, now=now)
        except PrometheusError as error:
            problems.append(f"{check.name}: {error}")
            continue
        judged.add(check.name)
        for deviation in deviations:
            reading = deviation.reading
            series = deviation.labels
            service = check.service or series.get("service") or series.get("job") or check.name
            expected = reading.expected if reading.expected is not None else float("nan")
            summary = check.summary or (
                f"{check.name}: {reading.value:.4g}, usually about {expected:.4g} "
                f"at this time ({reading.baseline} baseline)"
            )
            labels = {_label(k): v for k, v in series.items()}
            labels.update(
                {
                    "alertname": check.name,
                    "service": service,
                    "check": check.name,
                    "severity": check.severity,
                }
            )
            signals.append(
                Signal(
                    labels,
                    {"summary": summary, "description": summary},
                    group_key=f"check:{check.name}",
                )
            )
    return Evaluation(signals, judged, problems)


def _label(name: str) -> str:
    return re.sub(r"[^a-zA-Z0-9_]", "_", name)
