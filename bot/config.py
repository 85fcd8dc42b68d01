"""The YAML file behind LOOKOUT_CONFIG: service catalog, routing, access, grouping, health."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
)

from bot.schedule_config import ScheduleEntry, SloConfig
from core.capacity_rules import CapacityRules
from core.check_rules import PromCheck
from core.dependency_health import DependencyRules
from core.escalation import EscalationRules
from core.grouping_rules import GroupingRules
from core.log_lines import LogRules
from core.metric_evidence import SignalRules
from core.notify_rules import NotifyRules, target_problems
from core.oncall import OncallConfig
from core.policies import PolicyError, Rule
from core.projects import DEFAULT_PROJECT, Project, Projects
from core.service_health import HealthRules
from core.sla import SlaRules
from integrations.change_events import GitHubRules
from runbooks.config import ExecutionConfig
from skills.contract import Role


class ServiceConfig(BaseModel):
    model_config = ConfigDict(extra="allow")

    name: str
    team: str | None = None
    tier: int = Field(default=3, ge=1, le=3)
    depends_on: list[str] = Field(default_factory=list)
    channel: str | None = None
    channels: dict[str, str] = Field(
        default_factory=dict, description="per-platform channel, e.g. {slack: C0123, teams: …}"
    )
    runbooks: list[str] = Field(default_factory=list)
    annotations: dict[str, Any] = Field(default_factory=dict)
    type: str | None = Field(default=None, description="e.g. postgresql: runbooks fit by type")


class RoutingConfig(BaseModel):
    default_channel: str = "#incidents"
    admin_channel: str | None = Field(
        default=None, description="where admins hear about rejected runbooks (default: default)"
    )
    platforms: dict[str, str] = Field(
        default_factory=dict, description="per-platform default channel, e.g. {slack: C0123}"
    )


class AccessConfig(BaseModel):
    default_role: str = "responder"
    admins: list[str] = Field(default_factory=list)
    trusted_teams: list[str] = Field(
        default_factory=list,
        description="other Slack workspaces (T…) or Teams tenants whose people act like ours; "
        "everyone else from outside is a viewer at most",
    )
    bots: list[str] = Field(
        default_factory=list,
        description="bot and workflow ids (Slack B…, Teams 28:…) whose commands run; "
        "other bots are ignored",
    )

    def role(self) -> Role:
        return Role.parse(self.default_role)


class PolicyConfig(BaseModel):
    """One policy rule (`core.policies`): when its condition holds for an incident, do one
    safe action, at most once per incident episode."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    when: str = Field(description='a condition, e.g. severity == "info" and age > 30m')
    then: str = Field(description="auto_close, post_suggestion, notify or set_severity:<level>")
    message: str | None = Field(
        default=None, max_length=500, description="what `notify` posts in the thread"
    )
    once: Literal[True] = Field(
        default=True, description="a rule fires at most once per incident episode"
    )

    def rule(self) -> Rule:
        """The rule; raises PolicyError naming it when `when` or `then` is not usable."""
        return Rule.parse(name=self.name, when=self.when, then=self.then, message=self.message)


class ProjectConfig(BaseModel):
    """One team's project: the services and channels it owns and who may do what in it."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    services: list[str] = Field(default_factory=list)
    channels: dict[str, str] = Field(
        default_factory=dict, description="platform (slack, teams, console) → channel id"
    )
    members: dict[str, Literal["viewer", "responder", "admin", "owner"]] = Field(
        default_factory=dict, description="platform user id, or * for everyone → role"
    )
    groups: dict[str, Literal["viewer", "responder", "admin", "owner"]] = Field(
        default_factory=dict,
        description="Slack user group (S…) or Azure AD group object id → role",
    )
    policies: list[PolicyConfig] = Field(
        default_factory=list, description="rules evaluated on the project's incidents"
    )
    resolve_with_alerts: bool | None = Field(
        default=None,
        description="incidents resolve when their alerts all resolve (default: the top level's)",
    )

    def project(self) -> Project:
        return Project(
            name=self.name,
            services=frozenset(self.services),
            channels=dict(self.channels),
            members=dict(self.members),
            groups=dict(self.groups),
            resolve_with_alerts=self.resolve_with_alerts,
        )


# --- incident intelligence: the `grouping:` section is `core.GroupingRules` ---
class CatalogConfig(BaseModel):
    """Where the service topology comes from besides `services:` (see bot/service_catalog)."""

    model_config = ConfigDict(extra="forbid")

    backstage: list[str] = Field(
        default_factory=list,
        description="catalog-info.yaml paths or globs, relative to the config file",
    )
    service_graph: bool = Field(
        default=True, description="read service-graph metrics when PROMETHEUS_URL is set"
    )
    refresh_minutes: float = Field(default=10, gt=0, le=24 * 60)


# --- end incident intelligence ---


class RunbooksConfig(BaseModel):
    """Where runbooks come from and what they may touch when they run."""

    library: bool = Field(default=True, description="offer the runbooks Lookout ships")
    directory: Path | None = Field(default=None, description="a git checkout of your runbooks")
    folders: list[Path] = Field(
        default_factory=list,
        description="plain folders of runbooks offered beside the library, read once at start",
    )
    sync_minutes: float = Field(default=5, gt=0, description="how often to pull it")
    execution: ExecutionConfig = Field(default_factory=ExecutionConfig)


class ChangesConfig(BaseModel):
    """Where change events come from besides the generic webhook."""

    model_config = ConfigDict(extra="forbid")

    github: GitHubRules = Field(default_factory=GitHubRules)


class KnowledgeConfig(BaseModel):
    """Retrieval over past incidents, postmortems and runbooks (the `knowledge:` section)."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    postmortems: Path | None = Field(
        default=None, description="a folder of Markdown postmortems, relative to the config file"
    )
    synonyms: list[Path] = Field(
        default_factory=list,
        description="more synonyms files (Solr format) beside the shipped one, relative to "
        "the config file",
    )
    embeddings: Literal["local", "openai"] = Field(
        default="local", description="local: all-MiniLM-L6-v2 offline; openai: the endpoint"
    )
    embedding_model: str = "text-embedding-3-small"
    embedding_dimension: int = Field(default=1536, ge=8, le=8192)
    seen_before_similarity: float = Field(default=0.45, ge=0, le=1)
    similar_min_similarity: float = Field(default=0.35, ge=0, le=1)
    llm_timeout_seconds: float = Field(default=20, gt=0, le=300)
    chroma_timeout_seconds: float = Field(
        default=5, gt=0, le=300, description="one request to the Chroma server (LOOKOUT_CHROMA_URL)"
    )
    sync_seconds: float = Field(default=60, gt=0, le=24 * 3600)

    @field_validator("synonyms", mode="before")
    @classmethod
    def _one_file(cls, value: object) -> object:
        """`synonyms: ours.txt` means a list of one file."""
        return [value] if isinstance(value, str) else value


class ContextPostRules(BaseModel):
    """The `context_posts:` section of LOOKOUT_CONFIG."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(default=True, description="post new incidents' context unasked")
    delay_seconds: float = Field(default=30, ge=0, le=3600, description="after it opened")
    max_age_minutes: float = Field(
        default=60, gt=0, le=24 * 60, description="older incidents are not posted to"
    )


class RetentionRules(BaseModel):
    """The `retention:` section: how many days raw payloads, context snapshots and audit
    entries are kept (None: forever). A purge runs once a day at `purge_hour` (UTC) on one
    replica; incidents and their events are always kept."""

    model_config = ConfigDict(extra="forbid")

    raw_payloads_days: int | None = Field(
        default=None, ge=1, description="whole runbook step outputs (the runs stay)"
    )
    snapshots_days: int | None = Field(
        default=None, ge=1, description="context snapshots taken by `correlate` and context posts"
    )
    audit_days: int | None = Field(default=None, ge=1, description="audit log entries")
    purge_hour: int = Field(default=3, ge=0, le=23, description="the hour (UTC) of the purge")

    @property
    def enabled(self) -> bool:
        """Whether anything is ever purged."""
        return any(
            days is not None
            for days in (self.raw_payloads_days, self.snapshots_days, self.audit_days)
        )


class LookoutConfig(BaseModel):
    model_config = ConfigDict(extra="ignore")

    services: list[ServiceConfig] = Field(default_factory=list)
    projects: list[ProjectConfig] = Field(default_factory=list)
    _projects: Projects | None = PrivateAttr(default=None)  # project_map(), once built
    default_project: str = Field(
        default=DEFAULT_PROJECT,
        min_length=1,
        max_length=64,
        description="the project of alerts, channels and people no project claims",
    )
    policies: list[PolicyConfig] = Field(
        default_factory=list, description="rules for the default project's incidents"
    )
    resolve_with_alerts: bool = Field(
        default=True,
        description="an incident resolves when its alerts all resolve; false: it stays open "
        "until someone (or a policy's auto_close) resolves it",
    )
    routing: RoutingConfig = Field(default_factory=RoutingConfig)
    access: AccessConfig = Field(default_factory=AccessConfig)
    grouping: GroupingRules = Field(default_factory=GroupingRules)
    catalog: CatalogConfig = Field(default_factory=CatalogConfig)
    health: HealthRules = Field(default_factory=HealthRules)  # core.service_health
    runbooks: RunbooksConfig = Field(default_factory=RunbooksConfig)
    changes: ChangesConfig = Field(default_factory=ChangesConfig)
    signals: SignalRules = Field(default_factory=SignalRules)  # core.metric_evidence
    logs: LogRules = Field(default_factory=LogRules)  # core.log_lines
    dependency_health: DependencyRules = Field(default_factory=DependencyRules)
    context_posts: ContextPostRules = Field(default_factory=ContextPostRules)
    knowledge: KnowledgeConfig = Field(default_factory=KnowledgeConfig)
    # the scheduler: reports on a cron, SLOs, capacity forecasts, Prometheus checks
    schedules: list[ScheduleEntry] = Field(default_factory=list)
    slo: SloConfig = Field(default_factory=SloConfig)
    capacity: CapacityRules = Field(default_factory=CapacityRules)
    checks: list[PromCheck] = Field(default_factory=list)
    # escalation and paging: policies, who to notify and how, on-call schedules, SLA targets
    escalation: EscalationRules = Field(default_factory=EscalationRules)
    notify: NotifyRules = Field(default_factory=NotifyRules)
    oncall: OncallConfig = Field(default_factory=OncallConfig)
    sla: SlaRules = Field(default_factory=SlaRules)
    retention: RetentionRules = Field(default_factory=RetentionRules)

    def project_map(self) -> Projects:
        """The `projects:` section as `core.projects.Projects`, built once (routing asks for
        it on every post). Raises ValueError when two projects claim one channel or one
        service, or names repeat."""
        if self._projects is None:
            entries = tuple(entry.project() for entry in self.projects)
            self._projects = Projects(entries, self.default_project, self.resolve_with_alerts)
        return self._projects

    def policy_map(self) -> dict[str, tuple[Rule, ...]]:
        """Each project's policy rules, in config order: the top-level `policies:` belong to
        the default project (before its own entry's). Projects without rules are left out.
        Raises PolicyError naming the rule (and its project) that cannot be used, or two
        rules of one project with one name."""
        found: dict[str, list[Rule]] = {}
        entries = [(self.default_project, self.policies)]
        entries += [(project.name, project.policies) for project in self.projects]
        for project, policies in entries:
            where = f"project {project}: " if self.projects else ""
            for entry in policies:
                try:
                    rule = entry.rule()
                except PolicyError as error:
                    raise PolicyError(f"{where}{error}") from None
                rules = found.setdefault(project, [])
                if any(known.name == rule.name for known in rules):
                    raise PolicyError(f"{where}policy {rule.name}: two rules have this name")
                rules.append(rule)
        return {project: tuple(rules) for project, rules in found.items()}

    def channel_for(self, platform: str, service: str | None, project: str | None = None) -> str:
        """Where `service`'s incidents go on `platform`: the service's own channel for that
        platform, else its channel, else its project's channel there (`project`, else the
        service's), else the platform's default, else the default."""
        for entry in self.services:
            if entry.name == service:
                if platform in entry.channels:
                    return entry.channels[platform]
                if entry.channel:
                    return entry.channel
        projects = self.project_map()
        owner = project or projects.of_service(service)
        return projects.channel_of(owner, platform) or self.routing.platforms.get(
            platform, self.routing.default_channel
        )

    def admin_channel_for(self, platform: str) -> str:
        return self.routing.admin_channel or self.channel_for(platform, None)

    def channels(self) -> list[str]:
        named = {entry.channel for entry in self.services if entry.channel}
        named |= {
            entry.channels["console"] for entry in self.projects if "console" in entry.channels
        }
        return [self.routing.default_channel, *sorted(named - {self.routing.default_channel})]


class ConfigError(ValueError):
    """The config file is unreadable or invalid; the message says where."""


def load_config(path: Path | None) -> LookoutConfig:
    if path is None:
        return LookoutConfig()
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except OSError as error:
        raise ConfigError(f"cannot read {path}: {error.strerror or error}") from error
    except (ValueError, RecursionError, yaml.YAMLError) as error:
        # ValueError: bytes that are not UTF-8, or a date YAML cannot construct (2001-13-14);
        # RecursionError: nesting deeper than the YAML reader goes.
        raise ConfigError(f"cannot read {path}: {error}") from error
    try:
        config = LookoutConfig.model_validate(data)
        config.access.role()
        projects = config.project_map()
        for entry in config.schedules:
            if entry.project and not projects.known(entry.project):
                raise ValueError(f"schedules: {entry.skill!r} names no project {entry.project!r}")
        for name, schedule in config.oncall.schedules.items():
            if schedule.project and not projects.known(schedule.project):
                raise ValueError(f"oncall.schedules.{name} names no project {schedule.project!r}")
        config.policy_map()
        targets = [str(target) for target in config.escalation.targets]
        problems = target_problems(targets, config.notify)
        if problems:
            raise ValueError("escalation: " + "; ".join(problems))
    except ValidationError as error:
        raise ConfigError(f"{path} is not a valid Lookout config: {_reasons(error)}") from error
    except ValueError as error:
        raise ConfigError(f"{path} is not a valid Lookout config: {error}") from error
    return config


def _reasons(error: ValidationError, most: int = 5) -> str:
    """A pydantic error on one line: `access.default_role: Input should be …; …`."""
    reasons = []
    for item in error.errors()[:most]:
        where = ".".join(str(part) for part in item["loc"]) or "(top level)"
        reasons.append(f"{where}: {item['msg']}")
    more = f" (and {error.error_count() - most} more)" if error.error_count() > most else ""
    return "; ".join(reasons) + more
