"""`runbooks [--service S] [--tag T] [--incident INC]`: what can be run, how risky it is, and
how often it worked; for an incident, the runbooks that fit it, best first, each with why."""

from __future__ import annotations

from pydantic import BaseModel, Field

from core.incidents import display_id
from runbooks.catalog import CatalogEntry
from skills.commands.runbook_facts import Suggestion, suggestions, visible_runbooks
from skills.context import SkillContext
from skills.contract import Actions, Block, Button, Context, Reply, Table, Text
from skills.lookups import load_incident
from skills.markup import literal
from skills.registry import Skill
from skills.views.run_card import APPROVAL_WORDS

MAX_BUTTONS = 5


class RunbooksArgs(BaseModel):
    service: str | None = Field(default=None, max_length=255, description="for this service")
    tag: str | None = Field(default=None, max_length=64, description="with this tag")
    incident: str | None = Field(default=None, description="suggested for this incident")


def worked(succeeded: int, finished: int) -> str:
    return f"{succeeded}/{finished} ({succeeded / finished:.0%})" if finished else "never run"


class RunbooksSkill(Skill[RunbooksArgs]):
    verb = "runbooks"
    aliases = ("playbooks",)
    summary = "List runbooks with their risk and success rate; --incident suggests some."
    args_model = RunbooksArgs

    async def handle(self, ctx: SkillContext, args: RunbooksArgs) -> Reply:
        entries = sorted(visible_runbooks(ctx).values(), key=lambda e: e.runbook.name)
        if args.service:
            entries = [e for e in entries if _for_service(ctx, e, args.service)]
        if args.tag:
            entries = [e for e in entries if args.tag in e.runbook.tags]
        if args.incident is not None or (
            ctx.conversation.incident_id is not None and not (args.service or args.tag)
        ):
            return await self._for_incident(ctx, args.incident, entries)
        if not entries:
            return Reply.text("No runbooks match.", visibility="ephemeral")
        outcomes = await ctx.runs.outcomes()
        rows = []
        for entry in entries:
            book = entry.runbook
            rows.append(
                (
                    book.name,
                    book.title,
                    book.risk,
                    book.approval,
                    ", ".join(book.tags),
                    worked(*outcomes.get(book.name, (0, 0))),
                )
            )
        return Reply(
            blocks=[
                Text("**Runbooks**"),
                Table(
                    ("Runbook", "What it does", "Risk", "Approval", "Tags", "Worked"), tuple(rows)
                ),
                Context("`run <runbook> key=value … --dry-run` shows the exact commands."),
            ]
        )

    async def _for_incident(
        self, ctx: SkillContext, reference: str | None, entries: list[CatalogEntry]
    ) -> Reply:
        incident = await load_incident(ctx, reference)
        ref = display_id(incident.id)
        found = await suggestions(ctx, incident, entries)
        if not found:
            return Reply.text(
                f"No runbook fits {ref}: none names its alerts, their rules' metrics or its "
                "services. `runbooks` lists them all.",
                visibility="ephemeral",
                incident_id=incident.id,
            )
        rows = tuple(
            (
                s.name,
                s.entry.runbook.title,
                literal("; ".join(s.fit.reasons)),
                f"{s.entry.runbook.risk}: {APPROVAL_WORDS[s.entry.runbook.approval]}",
                worked(s.succeeded, s.finished),
                _here(s),
            )
            for s in found
        )
        blocks: list[Block] = [
            Text(f"**Runbooks for {ref}**, best fit first"),
            Table(("Runbook", "What it does", "Why it fits", "Risk", "Worked", "Here"), rows),
            Actions(
                tuple(
                    Button(f"Plan {s.name}", "run", (s.name, "--incident", ref, "--dry-run"))
                    for s in found[:MAX_BUTTONS]
                )
            ),
            Context(
                "A plan shows the exact commands, with parameters read from the incident's "
                "alerts; **Run this** on it asks for the approvals its risk needs."
            ),
        ]
        return Reply(blocks=blocks, incident_id=incident.id)


def _here(suggestion: Suggestion) -> str:
    if not suggestion.unavailable:
        return "ready"
    return "not runnable here: " + ", ".join(suggestion.unavailable) + " not allowed"


def _for_service(ctx: SkillContext, entry: CatalogEntry, service: str) -> bool:
    kind = (ctx.topology.service(service).type or "").lower()
    for trigger in entry.runbook.triggers:
        if service in trigger.services:
            return True
        if kind and kind in {t.lower() for t in trigger.service_types}:
            return True
    return entry.runbook.name in ctx.topology.service(service).runbooks or any(
        p.type == "service" for p in entry.runbook.parameters
    )
