"""`schedules`: the scheduled reports and evaluations, and when each runs next."""

from __future__ import annotations

from dataclasses import replace

from core.wording import plural
from skills.context import SkillContext
from skills.contract import Context, Reply, Table, Text
from skills.errors import NotFoundError
from skills.formatting import stamp
from skills.registry import NoArgs, Skill


class SchedulesSkill(Skill[NoArgs]):
    verb = "schedules"
    aliases = ("schedule", "jobs")
    summary = "Scheduled reports and checks, and when each runs next."

    async def handle(self, ctx: SkillContext, args: NoArgs) -> Reply:
        book = ctx.tools.schedules
        if book is None:
            raise NotFoundError("The scheduler is not running in this process.")
        jobs = await book.jobs()
        if ctx.access.configured:
            # A report is its channel's project's (evaluations, with no channel, are all's).
            projects = ctx.tools.projects
            jobs = [
                job
                for job in jobs
                if job.channel is None
                or ctx.access.can_see(projects.of_any_channel(job.channel) or projects.default)
            ]
        if ctx.schedules is not None:
            last = await ctx.schedules.last_runs(jobs=[job.job_id for job in jobs])
            jobs = [
                replace(job, last_run=run.scheduled_for, last_outcome=run.outcome)
                if (run := last.get(job.job_id)) is not None
                else job
                for job in jobs
            ]
        if not jobs:
            return Reply.text(
                "Nothing is scheduled. Add reports under `schedules:` in LOOKOUT_CONFIG, e.g. "
                '`- {skill: "slo report", channel: "#sre", cron: "0 9 * * 1-5"}`.'
            )
        rows = tuple(
            (
                job.what,
                job.when,
                job.channel or "—",
                stamp(job.next_run, ctx.now) if job.next_run else "paused",
                (
                    stamp(job.last_run, ctx.now)
                    + (f" ({job.last_outcome})" if job.last_outcome else "")
                )
                if job.last_run
                else "—",
            )
            for job in jobs
        )
        return Reply(
            blocks=[
                Text(f"**Scheduled** — {plural(len(jobs), 'job')}"),
                Table(columns=("What", "When", "Channel", "Next run", "Last run"), rows=rows),
                Context("A run missed while Lookout was down runs once when it starts again."),
            ]
        )
