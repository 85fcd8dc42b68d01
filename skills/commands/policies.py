"""`policies` and `policies test <incident>`: the project's policy rules, and which of them
would fire on an incident now and why — each comparison with the facts it read. Testing
acts on nothing; the policy pass does the firing."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

from core.incidents import display_id, parse_incident_id
from core.policies import Outcome, Rule, evaluate
from skills.context import SkillContext
from skills.contract import Block, Context, Reply, Text
from skills.errors import UsageError
from skills.grammar import Positional
from skills.lookups import load_incident
from skills.markup import literal
from skills.policy_work import incident_facts
from skills.registry import Skill

USAGE = "Say `policies` to list the rules, or `policies test INC-42` to try them on an incident."


class PoliciesArgs(BaseModel):
    action: Annotated[str | None, Positional()] = Field(
        default=None, description="`test` to try the rules on an incident"
    )
    incident: Annotated[str | None, Positional(incident=True)] = Field(
        default=None, description="incident id (INC-42); defaults to the thread's incident"
    )


def _rule_line(rule: Rule) -> str:
    return f"• **{literal(rule.name)}** — when `{rule.condition.text}` → `{rule.action}`"


def _outcome_lines(outcome: Outcome) -> str:
    rule = outcome.rule
    if outcome.fired_before:
        head = f"⏹ **{literal(rule.name)}** fired already in this episode"
    elif outcome.fires:
        head = f"✅ **{literal(rule.name)}** would fire → `{rule.action}`"
    elif outcome.verdict.holds and outcome.blocked:
        head = f"⏸ **{literal(rule.name)}** matches but would not act: {outcome.blocked}"
    else:
        head = f"— **{literal(rule.name)}** would not fire"
    return "\n".join([head, *(f"  {check.line()}" for check in outcome.verdict.checks)])


class PoliciesSkill(Skill[PoliciesArgs]):
    verb = "policies"
    aliases = ("policy",)
    summary = "The project's policy rules; `policies test <incident>` shows which would fire."
    args_model = PoliciesArgs

    async def handle(self, ctx: SkillContext, args: PoliciesArgs) -> Reply:
        action, reference = args.action, args.incident
        if action is not None and action.lower() != "test":
            try:
                parse_incident_id(action)
            except ValueError:
                raise UsageError(USAGE) from None
            action, reference = "test", action
        if action is None:
            return self._list(ctx)
        incident = await load_incident(ctx, reference)
        ref = display_id(incident.id)
        rules = ctx.tools.policies.get(incident.project, ())
        if not rules:
            return Reply.text(f"No policy rules apply to {ref}.", incident_id=incident.id)
        facts = await incident_facts(
            alerts=ctx.alerts, knowledge=ctx.knowledge, incident=incident, now=ctx.now
        )
        fired = (
            await ctx.policy_firings.fired(incident_id=incident.id, episode=incident.episode)
            if ctx.policy_firings is not None
            else frozenset()
        )
        outcomes = evaluate(rules, facts, fired=fired)
        blocks: list[Block] = [Text(f"**Policies on {ref}** (episode {incident.episode})")]
        blocks.extend(Text(_outcome_lines(outcome)) for outcome in outcomes)
        blocks.append(Context("A test: nothing was done. Each rule fires once per episode."))
        return Reply(blocks=blocks, incident_id=incident.id)

    def _list(self, ctx: SkillContext) -> Reply:
        project = ctx.access.project
        rules = ctx.tools.policies.get(project, ())
        where = f" in {project}" if ctx.access.configured else ""
        if not rules:
            return Reply.text(f"No policy rules{where}.")
        blocks: list[Block] = [Text(f"**Policy rules{where}**")]
        blocks.append(Text("\n".join(_rule_line(rule) for rule in rules)))
        blocks.append(Context("`policies test INC-42` shows which would fire on an incident."))
        return Reply(blocks=blocks)
