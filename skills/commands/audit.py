"""`audit [--user U] [--incident INC-n] [--since 2d|2026-11-01] [--limit N]`: who did what,
where, and how it ended — for admins, newest first. With projects configured, an admin sees
the entries of the projects where they are admin or owner (and entries of no project only
when they are admin of every project)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pydantic import BaseModel, Field

from core.incidents import parse_incident_id
from skills.context import SkillContext
from skills.contract import Block, Context, Reply, Role, Table, Text
from skills.errors import UsageError
from skills.formatting import stamp
from skills.registry import Skill
from skills.spans import parse_span

DEFAULT_SINCE = timedelta(days=7)


def parse_since(text: str, now: datetime) -> datetime:
    """`2h`, `7d` (back from `now`) or a date or time (`2026-11-01`, `2026-11-01T08:00Z`,
    read as UTC without a zone). Raises UsageError with the accepted forms."""
    cleaned = text.strip()
    try:
        return now - parse_span(cleaned)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(cleaned.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(
            f"`--since {cleaned}` is neither a span (2h, 7d) nor a date (2026-11-01)."
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


class AuditArgs(BaseModel):
    user: str | None = Field(default=None, max_length=255, description="a user id or name")
    incident: str | None = Field(default=None, max_length=32, description="an incident (INC-3)")
    since: str | None = Field(default=None, max_length=64, description="7d, 2h or 2026-11-01")
    limit: int = Field(default=25, ge=1, le=200, description="how many entries, newest first")


class AuditSkill(Skill[AuditArgs]):
    verb = "audit"
    summary = "The audit log: commands, clicks, runs, role changes and deliveries (admins)."
    role = Role.ADMIN
    args_model = AuditArgs

    async def handle(self, ctx: SkillContext, args: AuditArgs) -> Reply:
        since = parse_since(args.since, ctx.now) if args.since else ctx.now - DEFAULT_SINCE
        target = None
        if args.incident:
            try:
                target = f"INC-{parse_incident_id(args.incident)}"
            except ValueError:
                raise UsageError(f"`{args.incident}` is not an incident id (INC-3).") from None
        projects: set[str] | None = None
        every_project = True
        access = ctx.access
        if access.configured:
            projects = {name for name in access.roles if access.may(name, Role.ADMIN)}
            every_project = all(access.may(name, Role.ADMIN) for name in ctx.tools.projects.names)
        entries = await ctx.audit.find(
            user=args.user,
            target=target,
            since=since,
            projects=projects,
            unscoped=every_project,
            limit=args.limit,
        )
        scope = ", ".join(
            part
            for part in (
                f"since {stamp(since, ctx.now)}",
                f"by {args.user}" if args.user else "",
                f"on {target}" if target else "",
                f"in {', '.join(sorted(projects))}" if projects is not None else "",
            )
            if part
        )
        if not entries:
            return Reply.text(f"No audit entries {scope}.", visibility="ephemeral")
        rows = tuple(
            (
                stamp(entry.at, ctx.now),
                entry.user_name or entry.user_id,
                entry.platform,
                entry.action,
                entry.target or "—",
                entry.outcome,
                entry.project or "—",
            )
            for entry in entries
        )
        blocks: list[Block] = [
            Text(f"**Audit log**, {scope} ({len(entries)})"),
            Table(
                columns=("Time", "Who", "Platform", "Action", "Target", "Outcome", "Project"),
                rows=rows,
            ),
        ]
        if len(entries) == args.limit:
            blocks.append(Context(f"The newest {args.limit}; `--limit` or `--since` for more."))
        return Reply(blocks=blocks, visibility="ephemeral")
