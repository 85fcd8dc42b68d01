"""`runbooks [--service S] [--tag T] [--incident INC]`: what can be run, how risky it is, and
how often it worked; for an incident, the runbooks its alerts suggest."""

from __future__ import annotations

from pydantic import BaseModel, Field

from core.incidents import display_id
from runbooks.catalog import CatalogEntry
from skills.context import SkillContext
from skills.contract import Actions, Block, Button, Context, Reply, Table, Text
from skills.lookups import load_incident
from skills.registry import Skill

MAX_BUTTONS = 5


class RunbooksArgs(BaseModel):
    service: str | None = Field(default=None, max_length=255, description="for this service")
    tag: str | None = Field(default=None, max_length=64, description="with this tag")
    incident: str | None = Field(default=None, description="suggested for this incident")


class RunbooksSkill(Skill[RunbooksArgs]):
    verb = "runbooks"
    aliases = ("playbooks",)
    summary = "List runbooks with their risk and success rate; --incident suggests some."
    args_model = RunbooksArgs

    async def handle(self, ctx: SkillContext, args: RunbooksArgs) -> Reply:
        entries = sorted(ctx.tools.runbooks.entries().values(), key=lambda e: e.runbook.name)
        incident = None
        if args.incident is not None or (
            ctx.conversation.incident_id is not None and not (args.service or args.tag)
        ):
            incident = await load_incident(ctx, args.incident)
            alerts = await ctx.alerts.for_incident(incident_id=incident.id)
            entries = [
                e
                for e in entries
                if any(
                    e.runbook.suggested_for(
                        alertname=a.name, labels=dict(a.labels), service=a.service
                    )
                    for a in alerts
                )
            ]
        if args.service:
            entries = [e for e in entries if _for_service(e, args.service)]
        if args.tag:
            entries = [e for e in entries if args.tag in e.runbook.tags]
        if not entries:
            scope = f" for {display_id(incident.id)}" if incident else ""
            return Reply.text(f"No runbooks{scope} match.", visibility="ephemeral")
        outcomes = await ctx.runs.outcomes()
        rows = []
        for entry in entries:
            good, done = outcomes.get(entry.runbook.name, (0, 0))
            rate = f"{good}/{done} ({good / done:.0%})" if done else "never run"
            rows.append(
                (
                    entry.runbook.name,
                    entry.runbook.title,
                    entry.runbook.risk,
                    entry.runbook.approval,
                    ", ".join(entry.runbook.tags),
                    rate,
                )
            )
        title = f"**Runbooks for {display_id(incident.id)}**" if incident else "**Runbooks**"
        blocks: list[Block] = [
            Text(title),
            Table(("Runbook", "What it does", "Risk", "Approval", "Tags", "Worked"), tuple(rows)),
        ]
        if incident is not None:
            ref = display_id(incident.id)
            blocks.append(
                Actions(
                    tuple(
                        Button(
                            f"Plan {e.runbook.name}",
                            "run",
                            (e.runbook.name, "--incident", ref, "--dry-run"),
                        )
                        for e in entries[:MAX_BUTTONS]
                    )
                )
            )
        blocks.append(Context("`run <runbook> key=value … --dry-run` shows the exact commands."))
        return Reply(blocks=blocks, incident_id=incident.id if incident else None)


def _for_service(entry: CatalogEntry, service: str) -> bool:
    return any(service in trigger.services for trigger in entry.runbook.triggers) or any(
        p.type == "service" for p in entry.runbook.parameters
    )
