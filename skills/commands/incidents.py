"""`incidents [--service S] [--severity S] [--all]`: what is open (or everything)."""

from __future__ import annotations

from pydantic import BaseModel, Field, field_validator

from core.incidents import display_id
from core.severity import severity_from_name
from core.wording import plural
from skills.context import SkillContext
from skills.contract import Actions, Button, Context, Reply, Table, Text
from skills.formatting import age, mark
from skills.markup import literal
from skills.registry import Skill

LIMIT = 25


class IncidentsArgs(BaseModel):
    service: str | None = Field(default=None, max_length=255, description="only this service")
    severity: str | None = Field(default=None, description="only this severity (critical, error…)")
    all: bool = Field(default=False, description="include resolved incidents")

    @field_validator("severity")
    @classmethod
    def _known_severity(cls, value: str | None) -> str | None:
        return severity_from_name(value).label if value else None


class IncidentsSkill(Skill[IncidentsArgs]):
    verb = "incidents"
    aliases = ("list", "ls")
    summary = "List open incidents (or all with --all), newest first."
    args_model = IncidentsArgs

    async def handle(self, ctx: SkillContext, args: IncidentsArgs) -> Reply:
        rows = await ctx.incidents.find(
            status="all" if args.all else "open",
            service=args.service,
            severity=args.severity,
            limit=LIMIT + 1,
        )
        noun = "incident" if args.all else "open incident"
        filters = [f for f in (args.service, args.severity) if f]
        among = f" ({', '.join(filters)})" if filters else ""
        if not rows:
            return Reply.text(f"No {noun}s{among}. 🎉", visibility="channel")
        shown = rows[:LIMIT]
        counts = await ctx.alerts.counts(incident_ids=[row.id for row in shown])
        table = Table(
            columns=(
                "Incident",
                "Severity",
                "Status",
                "Service",
                "Title",
                "Alerts",
                "Age",
                "Owner",
            ),
            rows=tuple(
                (
                    f"{mark(row.severity, row.status)} {display_id(row.id)}",
                    row.severity,
                    row.status,
                    literal(row.service),
                    literal(row.title),
                    str(counts.get(row.id, 0)),
                    age(row.created_at, ctx.now),
                    literal(row.owner_name) if row.owner_name else "—",
                )
                for row in shown
            ),
        )
        blocks: list[Text | Table | Context | Actions] = [
            Text(f"**{plural(len(shown), noun)}{among}**"),
            table,
        ]
        if len(rows) > LIMIT:
            blocks.append(
                Context(f"Showing the newest {LIMIT}; narrow with --service or --severity.")
            )
        blocks.append(
            Actions(
                tuple(
                    Button(f"Details {display_id(r.id)}", "show", (display_id(r.id),))
                    for r in shown[:5]
                )
            )
        )
        return Reply(blocks=list(blocks), visibility="channel")
