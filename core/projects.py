"""Projects: which team's an alert, a channel, an incident and a person's rights belong to.

One Lookout serves many teams. Each project owns services and channels and has members with
a role per project: viewer < responder < admin < owner. An alert belongs to the project of
its service, unless its `project` label names one; what no project owns belongs to the
default project. A channel belongs to at most one project; a direct message uses the
person's chosen default project.

With no projects configured there is one project, the default, that everyone is a member of
with the role the access config gives them: Lookout behaves as a single-team install.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

# Ordered: a role can do everything the roles before it can.
ROLES = ("viewer", "responder", "admin", "owner")
DEFAULT_PROJECT = "default"
EVERYONE = "*"
PROJECT_LABEL = "project"


def role_rank(role: str) -> int:
    """1 for viewer … 4 for owner. Raises ValueError for a name that is not a role."""
    try:
        return ROLES.index(role.strip().lower()) + 1
    except ValueError:
        raise ValueError(f"unknown role {role!r}: use {', '.join(ROLES)}") from None


@dataclass(frozen=True)
class Project:
    """One team's share of Lookout.

    `channels`: platform (`slack`, `teams`, `console`) → channel id; `members`: a platform
    user id (or `*`, everyone) → role; `groups`: a Slack user group id (S…) or an Azure AD
    group object id → role, for people the platform says are in it; `resolve_with_alerts`:
    whether an incident resolves when its alerts all resolve (None: as `Projects` says)."""

    name: str
    services: frozenset[str] = frozenset()
    channels: Mapping[str, str] = field(default_factory=dict)
    members: Mapping[str, str] = field(default_factory=dict)
    groups: Mapping[str, str] = field(default_factory=dict)
    resolve_with_alerts: bool | None = None


@dataclass(frozen=True)
class Projects:
    """Every configured project, and the default one for whatever no project owns.

    `configured` is False for a single-team install (no `projects:` in the config).
    `resolve_with_alerts`: whether incidents resolve when their alerts all resolve, for
    projects that do not say."""

    projects: tuple[Project, ...] = ()
    default: str = DEFAULT_PROJECT
    resolve_with_alerts: bool = True

    def __post_init__(self) -> None:
        names = [project.name for project in self.projects]
        if len(set(names)) != len(names):
            raise ValueError("project names must be unique")
        seen: dict[tuple[str, str], str] = {}
        for project in self.projects:
            for platform, channel in project.channels.items():
                owner = seen.setdefault((platform, channel), project.name)
                if owner != project.name:
                    raise ValueError(
                        f"{platform} channel {channel} belongs to both {owner} and {project.name}"
                    )
        services: dict[str, str] = {}
        for project in self.projects:
            for service in project.services:
                owner = services.setdefault(service, project.name)
                if owner != project.name:
                    raise ValueError(
                        f"service {service} belongs to both {owner} and {project.name}"
                    )

    @property
    def configured(self) -> bool:
        return bool(self.projects)

    @property
    def names(self) -> tuple[str, ...]:
        """Every project's name, the default one included, in config order."""
        named = tuple(project.name for project in self.projects)
        return named if self.default in named else (*named, self.default)

    def get(self, name: str) -> Project | None:
        for project in self.projects:
            if project.name == name:
                return project
        return None

    def known(self, name: str) -> bool:
        return name in self.names

    def resolves_with_alerts(self, project: str) -> bool:
        """Whether `project`'s incidents resolve by themselves when no alert fires any more
        (else they stay open until someone, or a policy's `auto_close`, resolves them)."""
        found = self.get(project)
        if found is not None and found.resolve_with_alerts is not None:
            return found.resolve_with_alerts
        return self.resolve_with_alerts

    def of_service(self, service: str | None) -> str:
        """The project owning `service`, else the default project."""
        if service:
            for project in self.projects:
                if service in project.services:
                    return project.name
        return self.default

    def of_alert(self, labels: Mapping[str, str], service: str | None) -> str:
        """An alert's project: its `project` label when that names a project, else its
        service's project, else the default project."""
        named = (labels.get(PROJECT_LABEL) or "").strip()
        if named and self.known(named):
            return named
        return self.of_service(service)

    def of_change(self, labels: Mapping[str, str], services: Iterable[str]) -> str:
        """A change's project: its `project` label (or field) when that names a project,
        else the project of the first of its services a project owns, else the default."""
        named = (labels.get(PROJECT_LABEL) or "").strip()
        if named and self.known(named):
            return named
        for service in services:
            owner = self.of_service(service)
            if owner != self.default:
                return owner
        return self.default

    def of_channel(self, platform: str, channel: str | None) -> str | None:
        """The project a channel belongs to; None for a channel no project names."""
        if channel:
            for project in self.projects:
                if project.channels.get(platform) == channel:
                    return project.name
        return None

    def of_any_channel(self, channel: str | None) -> str | None:
        """The project naming `channel` on any platform; None when none does."""
        if channel:
            for project in self.projects:
                if channel in project.channels.values():
                    return project.name
        return None

    def channel_of(self, project: str, platform: str) -> str | None:
        """Where `project`'s incidents go on `platform`, when the project says."""
        found = self.get(project)
        return found.channels.get(platform) if found else None

    def role_in(
        self,
        project: str,
        user_id: str,
        *,
        granted: Mapping[str, str] | None = None,
        groups: Iterable[str] = (),
        fallback: str | None = None,
    ) -> str | None:
        """The role `user_id` has in `project`, or None when they are not a member.

        The highest of: a role granted in chat (`granted`: project → role, kept in the
        database), the config's members entry for the user, for `*`, and for each group the
        user is in. `fallback` is the role for a single-team install or for the default
        project when no project configures it (the access config's role)."""
        candidates: list[str] = []
        if granted and project in granted:
            candidates.append(granted[project])
        found = self.get(project)
        if found is None:
            if fallback is not None and (not self.configured or project == self.default):
                candidates.append(fallback)
        else:
            for key in (user_id, EVERYONE):
                if key in found.members:
                    candidates.append(found.members[key])
            candidates.extend(found.groups[group] for group in groups if group in found.groups)
        return max(candidates, key=role_rank) if candidates else None

    def roles_of(
        self,
        user_id: str,
        *,
        granted: Mapping[str, str] | None = None,
        groups: Iterable[str] = (),
        fallback: str | None = None,
    ) -> dict[str, str]:
        """Every project `user_id` is a member of → their role there."""
        group_ids = tuple(groups)
        found = {
            name: self.role_in(name, user_id, granted=granted, groups=group_ids, fallback=fallback)
            for name in self.names
        }
        return {name: role for name, role in found.items() if role is not None}
