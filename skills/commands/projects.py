"""`whoami`, `project [use <name>]` and `role <person> <role>`: who you are to Lookout, which
project a direct message acts in, and giving people roles in a project."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

from skills.context import SkillContext
from skills.contract import Fields, Reply, Role, Text
from skills.errors import NotFoundError, PermissionDeniedError, UsageError
from skills.grammar import Positional
from skills.people import find_person
from skills.registry import NoArgs, Skill


def _roles_line(ctx: SkillContext) -> str:
    roles = ctx.access.roles
    if not roles:
        return "none"
    return ", ".join(f"{name} ({role.label})" for name, role in roles.items())


class WhoamiSkill(Skill[NoArgs]):
    verb = "whoami"
    summary = "Who Lookout thinks you are, your role here and your projects."
    open_to_all = True

    async def handle(self, ctx: SkillContext, args: NoArgs) -> Reply:
        actor = ctx.actor
        here = ctx.access.role_in(ctx.access.project)
        fields = [
            ("You", f"{actor.display_name} ({actor.platform} {actor.user_id})"),
            ("Role here", here.label if here else "not a member"),
        ]
        if ctx.access.configured:
            fields.insert(1, ("Project here", ctx.access.project))
            fields.append(("Your projects", _roles_line(ctx)))
        if actor.groups:
            fields.append(("Groups", ", ".join(actor.groups)))
        return Reply(blocks=[Fields(tuple(fields))], visibility="ephemeral")


class ProjectArgs(BaseModel):
    action: Annotated[str | None, Positional()] = Field(
        default=None, description="`use` to choose the project your direct messages act in"
    )
    name: Annotated[str | None, Positional()] = Field(default=None, description="a project")


class ProjectSkill(Skill[ProjectArgs]):
    verb = "project"
    aliases = ("projects",)
    summary = "Your projects; `project use <name>` picks the one direct messages act in."
    args_model = ProjectArgs
    open_to_all = True

    async def handle(self, ctx: SkillContext, args: ProjectArgs) -> Reply:
        projects = ctx.tools.projects
        if not projects.configured:
            return Reply.text(
                "This Lookout has no projects: everything is in one, and everyone works in it.",
                visibility="ephemeral",
            )
        if args.action is None:
            return Reply(
                blocks=[
                    Fields(
                        (
                            ("Acting in", ctx.access.project),
                            ("Your projects", _roles_line(ctx)),
                            ("All projects", ", ".join(projects.names)),
                        )
                    )
                ],
                visibility="ephemeral",
            )
        if args.action.lower() != "use" or not args.name:
            raise UsageError("Say `project use <name>`, or `project` to see yours.")
        name = args.name.strip()
        if not projects.known(name):
            raise NotFoundError(
                f"There is no project {name}; the projects are {', '.join(projects.names)}."
            )
        if not ctx.access.can_see(name):
            raise PermissionDeniedError(
                f"You are not a member of {name}; an admin of {name} can add you."
            )
        user = await ctx.users.get(platform=ctx.actor.platform, platform_user_id=ctx.actor.user_id)
        if user is None:  # pragma: no cover - the dispatcher stored them
            raise NotFoundError("Lookout does not know you yet; try again.")
        user.default_project = name
        return Reply.text(f"Your direct messages now act in {name}.", visibility="ephemeral")


class RoleArgs(BaseModel):
    person: Annotated[str, Positional()] = Field(description="`me`, a mention, a name or an id")
    role: Annotated[str, Positional()] = Field(description="viewer, responder, admin or owner")
    project: str | None = Field(
        default=None, description="the project (default: the one this is asked in)"
    )


class RoleSkill(Skill[RoleArgs]):
    verb = "role"
    summary = "Give someone a role in a project (admins; owner only by owners)."
    role = Role.ADMIN
    args_model = RoleArgs

    async def handle(self, ctx: SkillContext, args: RoleArgs) -> Reply:
        try:
            wanted = Role.parse(args.role)
        except ValueError as error:
            raise UsageError(f"{error}.") from None
        projects = ctx.tools.projects
        project = (args.project or ctx.access.project).strip()
        if args.project and not projects.known(project):
            raise NotFoundError(
                f"There is no project {project}; the projects are {', '.join(projects.names)}."
            )
        mine = ctx.access.role_in(project) if ctx.access.configured else ctx.role
        if mine is None or mine < Role.ADMIN:
            raise PermissionDeniedError(f"Giving roles in {project} needs its admin role.")
        if wanted > mine:
            raise PermissionDeniedError(
                f"You are {mine.label} in {project}; you cannot give the {wanted.label} role."
            )
        person = await find_person(ctx, args.person, unseen_ok=True)
        if person.platform != ctx.actor.platform:
            raise UsageError("Give roles to people of the platform you ask on.")
        await ctx.users.ensure(
            platform=person.platform,
            platform_user_id=person.user_id,
            display_name=person.name,
            default_role=Role.VIEWER.label,
            now=ctx.now,
        )
        if ctx.access.configured:
            assert ctx.project_roles is not None
            before = await ctx.project_roles.grant(
                platform=person.platform,
                platform_user_id=person.user_id,
                project=project,
                role=wanted.label,
                granted_by=ctx.actor.display_name,
                now=ctx.now,
            )
        else:
            user = await ctx.users.get(platform=person.platform, platform_user_id=person.user_id)
            assert user is not None
            before, user.role = user.role, wanted.label
        # The dispatcher audits the command as typed; this entry says who got what, where.
        await ctx.audit.record(
            at=ctx.now,
            platform=ctx.actor.platform,
            user_id=ctx.actor.user_id,
            user_name=ctx.actor.display_name,
            action="role.grant",
            target=person.name,
            detail={
                "person": {"platform": person.platform, "user_id": person.user_id},
                "role": wanted.label,
                "was": before,
                "project": project if ctx.access.configured else None,
            },
            outcome="ok",
            project=project if ctx.access.configured else ctx.access.project,
        )
        was = f" (was {before})" if before and before != wanted.label else ""
        where = f" in {project}" if ctx.access.configured else ""
        return Reply(
            blocks=[Text(f"🔑 {person.name} is now {wanted.label}{where}{was}.")],
            visibility="ephemeral",
        )
