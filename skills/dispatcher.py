"""The dispatcher: parse, check the role, run, map errors — once, for every platform.

A skill runs in a unit of work; when it answers with an `Outside` (skills.context), that
unit commits, the outside work runs with no transaction open, and the skill finishes in a
fresh unit of work. So no command holds the database while it waits on Prometheus, Loki
or a Chroma server, and ingestion never waits on them either."""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Protocol

from core.incidents import parse_incident_id
from core.projects import Projects
from core.runs import parse_run_ref
from core.topology import Topology
from skills import grammar
from skills.access import ProjectAccess
from skills.context import Outside, SkillContext, SkillTools
from skills.contract import Actor, Conversation, Invocation, Mention, Reply, Role
from skills.errors import PermissionDeniedError, UsageError, UserError
from skills.registry import Registry
from storage.uow import UnitOfWork

log = logging.getLogger(__name__)

COMMAND_PREFIXES = ("/lookout", "@lookout", "lookout")
# Senders that are not people: scheduled reports (bot.background.scheduled_work) and
# PagerDuty's signed webhook (bot.pagerduty_routes).
SYSTEM_PLATFORMS = frozenset({"scheduler", "pagerduty"})
# How many units of work one invocation may use: its own and one per `Outside` it returns.
MAX_PHASES = 4


class UnitOfWorkFactory(Protocol):
    def unit_of_work(self) -> Any: ...


@dataclass(frozen=True)
class AccessPolicy:
    """Roles from config: `admins` are platform user ids; everyone else starts at
    `default_role`. People from another workspace or tenant (`Actor.external`) are viewers at
    most unless their team is in `trusted_teams`; bots and workflows act only when their id
    is in `bots`."""

    default_role: Role = Role.RESPONDER
    admins: frozenset[str] = field(default_factory=frozenset)
    trusted_teams: frozenset[str] = field(default_factory=frozenset)
    bots: frozenset[str] = field(default_factory=frozenset)

    def initial_role(self, actor: Actor) -> Role:
        if actor.user_id in self.admins:
            role = Role.ADMIN
        elif actor.platform == "pagerduty":
            # Acknowledgements from PagerDuty's signed webhook: its on-call people respond.
            role = max(self.default_role, Role.RESPONDER)
        else:
            role = self.default_role
        return self.cap(actor, role)

    def role_for(self, actor: Actor, stored: Role) -> Role:
        """The role `actor` acts with now: the stored one, raised for configured admins and
        capped for untrusted outsiders (whatever was stored before they became one)."""
        if actor.user_id in self.admins:
            stored = max(stored, Role.ADMIN)
        return self.cap(actor, stored)

    def cap(self, actor: Actor, role: Role) -> Role:
        return min(role, Role.VIEWER) if self.is_outsider(actor) else role

    def is_outsider(self, actor: Actor) -> bool:
        """From another workspace or tenant that the config does not trust."""
        return actor.external and (actor.team is None or actor.team not in self.trusted_teams)

    def allows_bot(self, bot_id: str) -> bool:
        return bool(bot_id) and bot_id in self.bots


@dataclass(frozen=True)
class Outcome:
    skill: str
    result: str
    seconds: float
    changed_incidents: frozenset[int]
    runs_to_start: frozenset[int] = frozenset()
    messages_changed: bool = False
    answers_requested: bool = False  # an LLM answer waits to be written


@dataclass
class _Effects:
    """What the committed phases of one invocation asked for after their commits."""

    changed: set[int] = field(default_factory=set)
    to_start: set[int] = field(default_factory=set)
    messages_changed: bool = False
    answers_requested: bool = False

    def absorb(self, ctx: SkillContext) -> None:
        self.changed |= ctx.changed_incidents
        self.to_start |= ctx.runs_to_start
        self.messages_changed = (
            self.messages_changed or ctx.messages_changed or ctx.answers_requested
        )
        self.answers_requested = self.answers_requested or ctx.answers_requested


def strip_prefix(text: str) -> str:
    stripped = text.strip()
    lowered = stripped.lower()
    for prefix in COMMAND_PREFIXES:
        if lowered == prefix or lowered.startswith(prefix + " "):
            return stripped[len(prefix) :].strip()
    return stripped


def named_incident(args: Any, conversation: Conversation) -> int | None:
    """The incident an invocation is about: its `incident` argument when that reads as an
    incident id, else the incident whose thread it was typed in."""
    reference = getattr(args, "incident", None)
    if isinstance(reference, int):
        return reference
    if isinstance(reference, str) and reference.strip():
        try:
            return parse_incident_id(reference)
        except ValueError:
            return None
    return conversation.incident_id


def named_run(args: Any) -> int | None:
    """The runbook run an invocation names (`approve R-12`, `run show R-12`,
    `run --plan R-12`), when it names one."""
    reference = getattr(args, "run", None) or getattr(args, "plan", None)
    if reference is None and getattr(args, "runbook", None) == "show":
        reference = next(iter(getattr(args, "arguments", None) or []), None)
    if not isinstance(reference, str) or not reference.strip():
        return None
    try:
        run_id = parse_run_ref(reference)
    except ValueError:
        return None
    return run_id if run_id < 2**62 else None


def new_ref() -> str:
    return secrets.token_hex(3).upper()


class Dispatcher:
    def __init__(
        self,
        *,
        registry: Registry,
        database: UnitOfWorkFactory,
        access: AccessPolicy,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        on_finished: Callable[[Outcome], Awaitable[None]] | None = None,
        tools: SkillTools | None = None,
        topology: Callable[[], Topology] = Topology,
        projects: Callable[[], Projects] = Projects,
    ) -> None:
        self.registry = registry
        self._database = database
        self._access = access
        self._clock = clock
        self._on_finished = on_finished
        self._tools = tools or SkillTools()
        self._topology = topology  # the current service topology, read per invocation
        self._projects = projects

    @property
    def uses_groups(self) -> bool:
        """Some project gives roles by group: adapters then say which groups people are in."""
        return bool(self.group_names)

    @property
    def group_names(self) -> tuple[str, ...]:
        """Every group (Slack user group handle or id, Azure AD group id) a project names."""
        names = (name for project in self._projects().projects for name in project.groups)
        return tuple(dict.fromkeys(names))

    @property
    def access(self) -> AccessPolicy:
        """Who may act: adapters ask it whether a bot's message is a command at all."""
        return self._access

    async def run(
        self,
        text: str,
        *,
        actor: Actor,
        conversation: Conversation,
        raw: Any = None,
        mentions: tuple[Mention, ...] = (),
    ) -> Reply:
        """Run a typed command or a button's command; always returns a Reply, never raises.
        `mentions`: the people the text mentions, as the platform identified them."""
        reply = await self._run(
            text, actor=actor, conversation=conversation, raw=raw, mentions=mentions
        )
        assert reply is not None  # only a request id can make a run a repeat
        return reply

    async def run_once(
        self,
        request_id: str,
        text: str,
        *,
        actor: Actor,
        conversation: Conversation,
        raw: Any = None,
        mentions: tuple[Mention, ...] = (),
    ) -> Reply | None:
        """Like `run`, for platforms that redeliver: a request id already taken (a retry)
        runs nothing and returns None. The id is recorded in the skill's first transaction:
        a run that failed there may be retried; once it committed, a retry runs nothing."""
        return await self._run(
            text,
            actor=actor,
            conversation=conversation,
            raw=raw,
            request_id=request_id,
            mentions=mentions,
        )

    async def _run(
        self,
        text: str,
        *,
        actor: Actor,
        conversation: Conversation,
        raw: Any = None,
        request_id: str | None = None,
        mentions: tuple[Mention, ...] = (),
    ) -> Reply | None:
        started = time.perf_counter()
        command = grammar.normalise_leading(strip_prefix(grammar.normalise_leading(text)))
        verb = "help"
        effects = _Effects()
        result = "ok"
        project: str | None = None  # where it acts, once known: failures are audited there
        try:
            typed_verb, rest = grammar.split_verb(command)
            verb = typed_verb.lower() or "help"
            skill = self.registry.get(verb)
            if skill is None:
                raise UsageError(self._unknown(verb))
            verb = skill.verb
            if not actor.user_id.strip():
                raise PermissionDeniedError(
                    "Lookout cannot tell who sent that, so it did nothing. Ask as yourself."
                )
            if actor.bot and not self._access.allows_bot(actor.user_id):
                raise PermissionDeniedError(
                    "Bots and workflows may not act here unless an admin allows them."
                )
            args = grammar.parse(
                verb, skill.args_model, rest, thread_incident=conversation.incident_id
            )
            now = self._clock()
            async with self._database.unit_of_work() as uow:
                if request_id is not None and not await uow.requests.first_time(
                    platform=actor.platform, request_id=request_id, now=now
                ):
                    result = "repeat"
                    log.info("ignoring a repeated request", extra={"request": request_id})
                    return None
                actor, access = await self._resolve(uow, actor, conversation, args)
                project = access.project
                invocation = Invocation(
                    skill=verb,
                    args=args,
                    argv=tuple(rest.split()),
                    actor=actor,
                    conversation=conversation,
                    raw=raw,
                    mentions=mentions,
                )
                if not skill.open_to_all:
                    self._check(verb, skill.role, actor, access)
                ctx = self._context(uow, invocation, now, access, skill.role)
                answer = await skill.handle(ctx, args)
                if isinstance(answer, Reply):
                    await self._audit(
                        uow, actor, verb, command, "ok", answer.incident_id, access.project
                    )
            effects.absorb(ctx)  # committed
            phases = 1
            while isinstance(answer, Outside):
                phases += 1
                if phases > MAX_PHASES:
                    raise RuntimeError(f"`{verb}` went outside its transaction too often")
                # No unit of work is open here: ingestion and other commands write meanwhile.
                found = await answer.call()
                async with self._database.unit_of_work() as uow:
                    ctx = self._context(uow, invocation, now, access, skill.role)
                    answer = await answer.then(ctx, found)
                    if isinstance(answer, Reply):
                        await self._audit(
                            uow, actor, verb, command, "ok", answer.incident_id, access.project
                        )
                effects.absorb(ctx)
            reply = answer
            if reply.incident_id is None and conversation.incident_id is not None:
                reply.incident_id = conversation.incident_id
            return reply
        except UserError as error:
            result = error.outcome
            await self._audit_separately(actor, verb, command, result, project=project)
            return Reply.text(str(error), visibility="ephemeral")
        except Exception:
            result = "error"
            ref = new_ref()
            log.exception("skill failed", extra={"ref": ref, "skill": verb, "command": command})
            await self._audit_separately(actor, verb, command, result, ref=ref, project=project)
            return Reply.text(
                f"Something went wrong (ref {ref}); the details are in Lookout's log.",
                visibility="ephemeral",
            )
        finally:
            if self._on_finished is not None:
                outcome = Outcome(
                    verb,
                    result,
                    time.perf_counter() - started,
                    frozenset(effects.changed),
                    frozenset(effects.to_start),
                    effects.messages_changed,
                    effects.answers_requested,
                )
                await self._on_finished(outcome)

    def _unknown(self, verb: str) -> str:
        suggestions = self.registry.suggest(verb)
        if suggestions:
            return f"I don't know `{verb}`. Did you mean `{suggestions[0]}`? Try `help`."
        return f"I don't know `{verb}`. Try `help` for the list of commands."

    def _check(self, verb: str, needed: Role, actor: Actor, access: ProjectAccess) -> None:
        """Raise PermissionDeniedError unless `actor` may run `verb` where it acts."""
        if access.configured and access.role_in(access.project) is None:
            raise PermissionDeniedError(
                f"You are not a member of the {access.project} project, so Lookout did "
                "nothing. `whoami` shows your projects; an admin of this one can add you."
            )
        if (actor.role or Role.VIEWER) < needed:
            raise PermissionDeniedError(self._denied(verb, needed, actor, access))

    def _denied(
        self, verb: str, needed: Role, actor: Actor, access: ProjectAccess | None = None
    ) -> str:
        if self._access.is_outsider(actor) and needed > Role.VIEWER:
            return (
                f"`{verb}` needs the {needed.label} role; people from other workspaces or "
                "organisations can only look here unless a Lookout admin trusts their team."
            )
        if access is not None and access.configured:
            return (
                f"`{verb}` needs the {needed.label} role in {access.project} and you are a "
                f"{(actor.role or Role.VIEWER).label} there; ask an admin of {access.project} "
                "for access."
            )
        return (
            f"`{verb}` needs the {needed.label} role and you are a "
            f"{(actor.role or Role.VIEWER).label}; ask a Lookout admin for access."
        )

    async def _resolve(
        self, uow: UnitOfWork, actor: Actor, conversation: Conversation, args: Any
    ) -> tuple[Actor, ProjectAccess]:
        """The stored user (created on first sight), what they may do project by project, and
        the role they act with here: in the project of the incident the command names (or
        of the thread it is typed in), else of its channel, else their default project. A
        name the platform could not give (the id stands in for it) never replaces a known
        one."""
        user = await uow.users.ensure(
            platform=actor.platform,
            platform_user_id=actor.user_id,
            display_name=actor.display_name,
            default_role=self._access.initial_role(actor).label,
            now=self._clock(),
        )
        stored = Role.parse(user.role)
        if actor.user_id in self._access.admins and stored < Role.ADMIN:
            user.role = Role.ADMIN.label
        if actor.display_name in ("", actor.user_id) and user.display_name:
            actor = replace(actor, display_name=user.display_name)
        base = self._access.role_for(actor, stored)
        projects = self._projects()
        if not projects.configured:
            return actor.with_role(base), ProjectAccess.single_team(base)
        if actor.platform in SYSTEM_PLATFORMS:
            # Lookout's scheduler and PagerDuty's signed webhook act in one project: the
            # incident's they name, else the one the conversation names, else its channel's.
            project = await self._system_project(uow, projects, conversation, args)
            return actor.with_role(base), ProjectAccess(project, {project: base}, configured=True)
        roles = await self._member_roles(uow, actor, base, projects)
        project = await self._project_of(uow, projects, conversation, args, user, roles)
        access = ProjectAccess(project, roles, configured=True)
        return actor.with_role(roles.get(project, Role.VIEWER)), access

    async def _system_project(
        self, uow: UnitOfWork, projects: Projects, conversation: Conversation, args: Any
    ) -> str:
        incident_id = named_incident(args, conversation)
        if incident_id is not None:
            row = await uow.incidents.get(incident_id=incident_id)
            if row is not None:
                return row.project
        return (
            conversation.project
            or projects.of_any_channel(conversation.channel)
            or projects.default
        )

    async def visible_projects(self, uow: UnitOfWork, actor: Actor) -> frozenset[str] | None:
        """The projects whose things `actor` may see, for a read outside any command (the
        console's lists); None when no projects are configured. Creates no user: one
        Lookout has not met yet has the role the access config starts people with."""
        projects = self._projects()
        if not projects.configured:
            return None
        user = await uow.users.get(platform=actor.platform, platform_user_id=actor.user_id)
        stored = Role.parse(user.role) if user is not None else self._access.initial_role(actor)
        base = self._access.role_for(actor, stored)
        return frozenset(await self._member_roles(uow, actor, base, projects))

    async def _member_roles(
        self, uow: UnitOfWork, actor: Actor, base: Role, projects: Projects
    ) -> dict[str, Role]:
        """project → `actor`'s role there, for the projects they are a member of: roles from
        the config, given in chat and by group (`base` for the unconfigured default project),
        capped for outsiders; the config's admins are admins everywhere."""
        granted = await uow.project_roles.of_user(
            platform=actor.platform, platform_user_id=actor.user_id
        )
        found = projects.roles_of(
            actor.user_id, granted=granted, groups=actor.groups, fallback=base.label
        )
        roles = {name: self._access.cap(actor, Role.parse(label)) for name, label in found.items()}
        if actor.user_id in self._access.admins:
            roles = {name: max(roles.get(name, Role.ADMIN), Role.ADMIN) for name in projects.names}
        return roles

    async def _project_of(
        self,
        uow: UnitOfWork,
        projects: Projects,
        conversation: Conversation,
        args: Any,
        user: Any,
        roles: dict[str, Role],
    ) -> str:
        """Where an invocation acts: the named (or thread's) incident's project, else the
        named run's, else the channel's, else the person's default project, else their
        first, else the default."""
        incident_id = named_incident(args, conversation)
        if incident_id is not None:
            row = await uow.incidents.get(incident_id=incident_id)
            if row is not None and row.project in roles:
                return row.project
        run_id = named_run(args)
        if run_id is not None:
            run = await uow.runs.get(run_id=run_id)
            if run is not None and run.project in roles:
                return run.project
        channel = projects.of_channel(conversation.platform, conversation.channel)
        if channel is not None:
            return channel
        chosen = user.default_project
        if chosen and chosen in roles and projects.known(chosen):
            return str(chosen)
        return next(iter(roles), projects.default)

    def _context(
        self,
        uow: UnitOfWork,
        invocation: Invocation,
        now: datetime,
        access: ProjectAccess | None = None,
        required: Role = Role.VIEWER,
    ) -> SkillContext:
        access = access or ProjectAccess.single_team(invocation.actor.role or Role.VIEWER)
        return SkillContext(
            invocation=invocation,
            now=now,
            access=access,
            required_role=required,
            incidents=uow.incidents.scoped(access.visible),
            episodes=uow.episodes,
            alerts=uow.alerts,
            users=uow.users,
            audit=uow.audit,
            registry=self.registry,
            runs=uow.runs.scoped(access.visible),
            trackers=uow.trackers,
            changes=uow.changes.scoped(access.visible),
            contexts=uow.contexts,
            tools=self._tools,
            topology=self._topology(),
            feedback=uow.feedback,
            knowledge=uow.knowledge,
            schedules=uow.schedules,
            escalations=uow.escalations,
            project_roles=uow.project_roles,
            policy_firings=uow.policies,
        )

    async def _audit(
        self,
        uow: UnitOfWork,
        actor: Actor,
        verb: str,
        command: str,
        outcome: str,
        incident_id: int | None = None,
        project: str | None = None,
        ref: str | None = None,
    ) -> None:
        detail: dict[str, Any] = {"command": command}
        if ref:
            detail["ref"] = ref
        await uow.audit.record(
            at=self._clock(),
            platform=actor.platform,
            user_id=actor.user_id,
            user_name=actor.display_name,
            action=verb,
            target=f"INC-{incident_id}" if incident_id else None,
            detail=detail,
            outcome=outcome,
            project=project,
        )

    async def _audit_separately(
        self,
        actor: Actor,
        verb: str,
        command: str,
        outcome: str,
        ref: str | None = None,
        project: str | None = None,
    ) -> None:
        """Failed runs are rolled back, so their audit entry gets a transaction of its own
        (in `project` when it was known: a refusal there is that project's)."""
        try:
            async with self._database.unit_of_work() as uow:
                await self._audit(uow, actor, verb, command, outcome, project=project, ref=ref)
        except Exception:
            log.exception("could not write the audit log", extra={"skill": verb})
