"""`postmortem [incident]`: a Markdown draft from the incident's record, posted as a long
message to copy into the postmortem folder (where, edited, it is indexed)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field

from core.incidents import display_id
from knowledge.postmortem_draft import draft
from knowledge.similar import Match, similar_incidents
from skills.commands.retrieval import behind_of, target_of
from skills.context import Answer, SkillContext, outside_reply
from skills.contract import Context, Reply, Text
from skills.grammar import Positional
from skills.lookups import load_incident
from skills.registry import Skill
from storage.models import AlertRow, IncidentEventRow, IncidentRow, RunbookRunRow


class PostmortemArgs(BaseModel):
    incident: Annotated[str | None, Positional(incident=True)] = Field(
        default=None, description="incident id (INC-42); defaults to the thread's incident"
    )


class PostmortemSkill(Skill[PostmortemArgs]):
    verb = "postmortem"
    aliases = ("pm", "retro")
    summary = "Draft a postmortem in Markdown from the incident's timeline, fix and notes."
    args_model = PostmortemArgs

    async def handle(self, ctx: SkillContext, args: PostmortemArgs) -> Answer:
        incident = await load_incident(ctx, args.incident)
        alerts = await ctx.alerts.for_incident(incident_id=incident.id)
        events = await ctx.incidents.events(incident_id=incident.id)
        runs = await ctx.runs.recent(incident_id=incident.id, limit=20)
        if ctx.tools.knowledge is None:
            return _reply(incident, alerts, events, runs, [], ctx.now)
        knowledge = ctx.tools.knowledge.scoped(ctx.access.visible)
        target = await target_of(ctx, incident)
        behind = await behind_of(ctx, knowledge)
        now = ctx.now

        async def search() -> Reply:
            similar, _ = await similar_incidents(knowledge, target, limit=3, behind=behind)
            return _reply(incident, alerts, events, runs, similar, now)

        # The index (Chroma, the embedder) is asked with no transaction open.
        return outside_reply(search)


def _reply(
    incident: IncidentRow,
    alerts: Sequence[AlertRow],
    events: Sequence[IncidentEventRow],
    runs: Sequence[RunbookRunRow],
    similar: list[Match],
    now: datetime,
) -> Reply:
    markdown = draft(
        incident,
        alerts=alerts,
        events=events,
        runs=list(reversed(runs)),
        similar=similar,
        now=now,
    )
    name = f"{incident.first_alert_at:%Y-%m-%d}-{display_id(incident.id).lower()}.md"
    return Reply(
        blocks=[
            Text(f"**Postmortem draft for {display_id(incident.id)}** — save as `{name}`"),
            Text(f"```\n{markdown}```"),
            Context(
                "Edit it and put it in the postmortem folder (knowledge.postmortems in the "
                "config): Lookout indexes it for `ask`, `similar` and `explain`."
            ),
        ],
        incident_id=incident.id,
    )
