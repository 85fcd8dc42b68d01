"""`oncall [schedule]`: who is on call now, until when, and who takes over next — of the
schedules of one's projects and those naming no project."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

from core.escalation import zone
from core.oncall import ScheduleConfig, Shift
from integrations.oncall import UnknownSchedule
from integrations.oncall_calendar import CalendarError
from skills.context import SkillContext
from skills.contract import Context, Reply, Table, Text
from skills.errors import NotFoundError
from skills.grammar import Positional
from skills.markup import literal
from skills.registry import Skill


class OncallArgs(BaseModel):
    schedule: Annotated[str | None, Positional()] = Field(
        default=None, description="a schedule's name; all of them when left out"
    )


def _sees(ctx: SkillContext, schedule: ScheduleConfig) -> bool:
    """A schedule naming a project is that project's people's; one naming none, everyone's."""
    return schedule.project is None or ctx.access.can_see(schedule.project)


def _when(shift: Shift, tz: str, *, start: bool) -> str:
    moment = (shift.start if start else shift.end).astimezone(zone(tz))
    return moment.strftime("%a %d %b %H:%M")


class OncallSkill(Skill[OncallArgs]):
    verb = "oncall"
    summary = "Who is on call now and next, per schedule."
    args_model = OncallArgs

    async def handle(self, ctx: SkillContext, args: OncallArgs) -> Reply:
        directory = ctx.tools.oncall
        if directory is None or not directory.names:
            raise NotFoundError(
                "No on-call schedules are configured: add them under `oncall.schedules` in "
                "LOOKOUT_CONFIG (a rotation, or a calendar exported by Grafana OnCall or "
                "PagerDuty)."
            )
        visible = [name for name in directory.names if _sees(ctx, directory.schedule(name))]
        if args.schedule and args.schedule not in visible:
            known = ", ".join(visible) or "none you can see"
            raise NotFoundError(f"There is no on-call schedule {args.schedule!r} ({known}).")
        if not visible:
            raise NotFoundError("None of the on-call schedules is of a project you are in.")
        names = [args.schedule] if args.schedule else visible
        rows = []
        notes = []
        for name in names:
            try:
                schedule = directory.schedule(name)
                answer = await directory.who(name, ctx.now)
            except UnknownSchedule as error:
                raise NotFoundError(str(error)) from None
            except CalendarError as error:
                rows.append((literal(name), "unknown", "—", "—"))
                notes.append(f"{literal(name)}: {literal(str(error))}")
                continue
            tz = schedule.timezone
            now = answer.now
            upcoming = answer.next
            rows.append(
                (
                    literal(name),
                    f"**{literal(now.user)}**" + (" (override)" if now.source == "override" else "")
                    if now
                    else "nobody",
                    _when(now, tz, start=False) if now else "—",
                    f"{literal(upcoming.user)} from {_when(upcoming, tz, start=True)}"
                    if upcoming
                    else "—",
                )
            )
            if (problem := directory.problem(name)) is not None:
                notes.append(f"{literal(name)}: calendar unreadable lately ({literal(problem)})")
        blocks: list[Text | Table | Context] = [
            Text("**On call now**"),
            Table(columns=("Schedule", "On call", "Until", "Next"), rows=tuple(rows)),
        ]
        zones = sorted({directory.schedule(n).timezone for n in names if n in directory.names})
        blocks.append(
            Context("Times in " + ", ".join(zones) + "." + "".join(f" {n}." for n in notes))
        )
        return Reply(blocks=list(blocks))
