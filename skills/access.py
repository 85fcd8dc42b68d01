"""What an invocation's actor may see and do, project by project (`core.projects`).

The dispatcher builds one `ProjectAccess` per invocation; skills ask it before they show or
change anything of a project. With no projects configured everything is in the default
project and the actor's one role holds everywhere."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from core.projects import DEFAULT_PROJECT
from skills.contract import Role
from skills.errors import NotFoundError, PermissionDeniedError


@dataclass(frozen=True)
class ProjectAccess:
    """`project`: where the invocation acts (its thread's incident's project, its channel's,
    or the actor's default); `roles`: project → the actor's role there, for the projects they
    are a member of; `configured`: projects are configured (else one team, no limits)."""

    project: str = DEFAULT_PROJECT
    roles: Mapping[str, Role] = field(default_factory=dict)
    configured: bool = False

    @classmethod
    def single_team(cls, role: Role) -> ProjectAccess:
        return cls(DEFAULT_PROJECT, {DEFAULT_PROJECT: role}, configured=False)

    @property
    def visible(self) -> frozenset[str] | None:
        """The projects whose things the actor may see; None: every project (one team)."""
        return frozenset(self.roles) if self.configured else None

    def role_in(self, project: str) -> Role | None:
        """The actor's role in `project`; None when they are not a member."""
        if not self.configured:
            return self.roles.get(DEFAULT_PROJECT)
        return self.roles.get(project)

    def can_see(self, project: str) -> bool:
        return not self.configured or self.role_in(project) is not None

    def may(self, project: str, needed: Role) -> bool:
        """Whether the actor has `needed` in `project` (one team: the dispatcher checked)."""
        if not self.configured:
            return True
        role = self.role_in(project)
        return role is not None and role >= needed

    def require(self, project: str, needed: Role, verb: str, what: str) -> None:
        """Raise unless the actor has `needed` in `project`. `what` names the thing (e.g.
        `INC-7`): one they may not see is reported as not found, so that its existence does
        not leak. Raises NotFoundError or PermissionDeniedError. One team: the dispatcher
        checked the role already, so nothing is raised."""
        if not self.configured:
            return
        role = self.role_in(project)
        if role is None:
            raise NotFoundError(f"There is no {what} you can see.")
        if role < needed:
            where = f" in {project}" if self.configured else ""
            raise PermissionDeniedError(
                f"`{verb}` needs the {needed.label} role{where} and you are a {role.label} "
                "there; ask an admin of that project for access."
            )
