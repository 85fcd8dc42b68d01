"""`feedback up|down|fixed <target> [--incident I]` (the 👍, 👎 and "This fixed it" buttons)
and `feedback stats [--days N]`: how often suggestions and answers helped."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from core.incidents import display_id
from core.wording import plural
from knowledge.kinds import kind_of
from skills.commands.retrieval import repositories
from skills.context import SkillContext
from skills.contract import Block, Context, Reply, Table, Text
from skills.errors import NotFoundError, UsageError
from skills.grammar import Positional
from skills.lookups import load_incident
from skills.registry import Skill
from storage.feedback import Vote

GOAL = 0.70
TARGET_NAMES = {
    "runbook": "runbook suggestions",
    "incident": "past incidents and fixes",
    "answer": "answers (ask, explain)",
}


class FeedbackArgs(BaseModel):
    action: Annotated[Literal["up", "down", "fixed", "stats"], Positional()] = Field(
        description="up (👍), down (👎), fixed (this fixed it) or stats"
    )
    target: Annotated[str | None, Positional()] = Field(
        default=None,
        max_length=255,
        pattern=r"^(runbook|incident|answer):[A-Za-z0-9._-]{1,200}$",
        description="what is rated: runbook:<name>, incident:<id> or answer:<id>",
    )
    incident: str | None = Field(default=None, description="the incident it was suggested for")
    days: int = Field(default=30, ge=1, le=3650, description="stats: over how many days")


class FeedbackSkill(Skill[FeedbackArgs]):
    verb = "feedback"
    aliases = ("vote",)
    summary = "Rate a suggestion or answer (👍, 👎, this fixed it), or see how often they helped."
    args_model = FeedbackArgs

    async def handle(self, ctx: SkillContext, args: FeedbackArgs) -> Reply:
        if args.action == "stats":
            return await self._stats(ctx, args.days)
        if args.target is None:
            raise UsageError("Rate what? `feedback up runbook:restart-service --incident INC-4`")
        knowledge, feedback = repositories(ctx)
        incident_id: int | None = None
        kind = ""
        detail: dict[str, object] = {}
        if args.target.startswith("answer:"):
            answer_id = args.target.partition(":")[2]
            row = await knowledge.answer(answer_id=int(answer_id)) if answer_id.isdigit() else None
            # An answer about an incident is that incident's project's.
            if (
                row is not None
                and row.incident_id is not None
                and await ctx.incidents.get(incident_id=row.incident_id) is None
            ):
                row = None
            if row is None:
                raise NotFoundError(f"There is no answer {answer_id}.")
            incident_id, kind = row.incident_id, row.incident_kind
            detail = {"skill": row.skill}
        elif args.incident is not None or ctx.conversation.incident_id is not None:
            incident = await load_incident(ctx, args.incident)
            incident_id = incident.id
            briefs = (await ctx.alerts.briefs(incident_ids=[incident.id]))[incident.id]
            kind = kind_of(incident.service, briefs)
        if args.action == "fixed" and incident_id is None:
            raise UsageError("Which incident did it fix? Add `--incident INC-42`.")
        vote: Vote = args.action
        changed = await feedback.record(
            vote=vote,
            platform=ctx.actor.platform,
            user_id=ctx.actor.user_id,
            user_name=ctx.actor.display_name,
            incident_id=incident_id,
            incident_kind=kind,
            target=args.target,
            now=ctx.now,
            detail=detail,
        )
        if vote == "fixed" and incident_id is not None and changed:
            await ctx.incidents.add_event(
                incident_id=incident_id,
                kind="note",
                text=f"{ctx.actor.display_name}: {args.target} fixed it",
                at=ctx.now,
                actor=ctx.actor.display_name,
                data={"fixed_by": args.target},
            )
        where = f" for {kind}" if kind else ""
        said = {
            "up": f"👍 Thanks — {args.target} will rank higher{where}.",
            "down": f"👎 Noted — {args.target} is hidden{where} until someone rates it up.",
            "fixed": f"✅ Recorded: {args.target} fixed {display_id(incident_id or 0)}; "
            "it counts as a success for incidents like it.",
        }[vote]
        if not changed:
            said = "You already said so; nothing changed."
        return Reply.text(said, visibility="ephemeral", incident_id=incident_id)

    async def _stats(self, ctx: SkillContext, days: int) -> Reply:
        knowledge, feedback = repositories(ctx)
        since = ctx.now - timedelta(days=days)
        visible = ctx.access.visible
        counts = await feedback.counts(since=since, projects=visible)
        by_type: dict[str, dict[str, int]] = {}
        for count in counts:
            by_type.setdefault(count.target_type, {})[count.vote] = count.count
        rows = []
        helped_all = rated_all = 0
        for target_type, votes in sorted(by_type.items()):
            helped = votes.get("up", 0) + votes.get("fixed", 0)
            rated = helped + votes.get("down", 0)
            helped_all, rated_all = helped_all + helped, rated_all + rated
            rows.append(
                (
                    TARGET_NAMES.get(target_type, target_type),
                    str(votes.get("up", 0)),
                    str(votes.get("down", 0)),
                    str(votes.get("fixed", 0)),
                    f"{helped / rated:.0%}" if rated else "—",
                )
            )
        answers = await knowledge.answer_counts(since=since)
        blocks: list[Block] = [Text(f"**Feedback, last {plural(days, 'day')}**")]
        if not rows:
            blocks.append(Text("Nobody has rated a suggestion or an answer yet."))
        else:
            blocks.append(Table(("Rated", "👍", "👎", "Fixed it", "Helpful"), tuple(rows)))
            rate = helped_all / rated_all
            mark = "✅" if rate >= GOAL else "⚠️"
            blocks.append(
                Text(
                    f"{mark} Helpful overall: **{rate:.0%}** of {rated_all} ratings "
                    f"(goal ≥ {GOAL:.0%})."
                )
            )
        top = await feedback.top_fixes(since=since, projects=visible)
        if visible is not None:  # a past incident named as the fix is shown only if visible
            named = [_number(t) for t, _ in top if _incident_target(t)]
            seen = await ctx.incidents.get_many(incident_ids=named)
            top = [
                (t, n)
                for t, n in top
                if not _incident_target(t) or int(t.partition(":")[2]) in seen
            ]
        if top:
            blocks.append(Text("Most often the fix: " + ", ".join(f"{t} ({n})" for t, n in top)))
        if answers:
            blocks.append(
                Context(
                    "Answers given: " + ", ".join(f"{k} {n}" for k, n in sorted(answers.items()))
                )
            )
        return Reply(blocks=blocks, visibility="ephemeral")


def _number(target: str) -> int:
    return int(target.partition(":")[2])


def _incident_target(target: str) -> bool:
    """`incident:<id>`: a past incident named as a fix."""
    kind, _, number = target.partition(":")
    return kind == "incident" and number.isdigit() and len(number) < 18
