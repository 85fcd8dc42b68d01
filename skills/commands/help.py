"""`help [skill]`: what Lookout can do, with usage derived from each skill's grammar."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

from skills import grammar
from skills.context import SkillContext
from skills.contract import Block, Context, Fields, Reply, Table, Text
from skills.errors import UsageError
from skills.grammar import Positional
from skills.registry import Skill

# The grammar's rule (skills.grammar), in a few words.
HOW_TO_READ = (
    "Text (notes, reasons, questions) is kept exactly as typed, quotes and all; options go "
    "before it or at its end. In an incident's thread the incident can be left out, and "
    "another one is `INC-42` or `#42` (a bare number there is text). Every command with "
    "[incident] also takes `--incident INC-42`."
)


class HelpArgs(BaseModel):
    skill: Annotated[str | None, Positional()] = Field(
        default=None, description="a command to explain"
    )


class HelpSkill(Skill[HelpArgs]):
    verb = "help"
    aliases = ("?", "commands")
    summary = "List the commands, or explain one."
    args_model = HelpArgs

    async def handle(self, ctx: SkillContext, args: HelpArgs) -> Reply:
        if args.skill:
            skill = ctx.registry.get(args.skill)
            if skill is None:
                suggestions = ctx.registry.suggest(args.skill)
                hint = f" Did you mean `{suggestions[0]}`?" if suggestions else ""
                raise UsageError(f"There is no command `{args.skill}`.{hint}")
            described = grammar.describe(skill.args_model)
            blocks: list[Block] = [
                Text(f"**{skill.verb}** — {skill.summary}"),
                Text(f"`/lookout {skill.usage}`"),
            ]
            if described:
                blocks.append(Fields(tuple((name, text or "—") for name, text in described)))
            extra = f"Aliases: {', '.join(skill.aliases)} · " if skill.aliases else ""
            blocks.append(Context(f"{extra}Needs the {skill.role.label} role."))
            return Reply(blocks=list(blocks), visibility="ephemeral")
        # Only what the asker may run: their highest role in any project they are in.
        best = max(ctx.access.roles.values(), default=None) if ctx.access.configured else ctx.role
        rows = tuple(
            (f"/lookout {skill.usage}", skill.summary, skill.role.label)
            for skill in ctx.registry.skills
            if skill.open_to_all or (best is not None and best >= skill.role)
        )
        return Reply(
            blocks=[
                Text("**Lookout commands**"),
                Table(columns=("Command", "What it does", "Role"), rows=rows),
                Context(HOW_TO_READ),
                Context(f"{self._roles(ctx)} `help <command>` explains one command."),
            ],
            visibility="ephemeral",
        )

    @staticmethod
    def _roles(ctx: SkillContext) -> str:
        if not ctx.access.configured:
            return f"Your role: {ctx.role.label}."
        here = ctx.access.role_in(ctx.access.project)
        return f"Your role in {ctx.access.project}: {here.label if here else 'none'}."
