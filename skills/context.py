"""What a skill may use: the invocation, repositories of one unit of work, the clock, config;
and `Outside`, how a skill asks machines (Prometheus, Loki, Chroma) with no transaction open."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from core.alerts import DEFAULT_SERVICE_LABELS
from core.escalation import EscalationRules
from core.policies import Rule
from core.projects import Projects
from core.sla import SlaRules
from core.topology import Topology
from integrations.alertmanager import SilenceClient
from integrations.capacity import CapacityReader
from integrations.dependency_health import DependencyHealthReader
from integrations.evidence import LogEvidenceReader, MetricEvidenceReader
from integrations.oncall import OncallDirectory
from integrations.service_health import PrometheusHealth
from integrations.slo import SloReader
from knowledge.service import Knowledge
from runbooks.catalog import RunbookCatalog
from runbooks.executor import Executor
from skills.access import ProjectAccess
from skills.contract import Actor, Conversation, Invocation, Reply, Role
from skills.scheduling import ScheduleBook
from storage.alerts import AlertRepository
from storage.audit import AuditRepository
from storage.changes import ChangeRepository
from storage.contexts import IncidentContextRepository
from storage.episodes import EpisodeRepository
from storage.escalations import EscalationRepository
from storage.feedback import FeedbackRepository
from storage.incidents import IncidentRepository
from storage.knowledge import KnowledgeRepository
from storage.models import IncidentRow
from storage.policies import PolicyFiringRepository
from storage.project_roles import ProjectRoleRepository
from storage.runs import RunRepository
from storage.schedules import ScheduledRunRepository
from storage.trackers import BlastTrackerRepository
from storage.users import UserRepository

if TYPE_CHECKING:
    from skills.registry import Registry

T = TypeVar("T")


@dataclass(frozen=True)
class SkillTools:
    """Process-wide things skills may use besides the database, built once by the
    composition root."""

    runbooks: RunbookCatalog = field(default_factory=RunbookCatalog)
    planner: Executor | None = None  # plans runbook runs with the configured allowlists
    # Service health from Prometheus (the `health:` queries) when PROMETHEUS_URL is set.
    health: PrometheusHealth | None = None
    # Golden signals and service-graph health (PROMETHEUS_URL), error logs (LOKI_URL).
    metrics: MetricEvidenceReader | None = None
    logs: LogEvidenceReader | None = None
    # Each call's rate, errors and latency from service-graph metrics (PROMETHEUS_URL).
    dependencies: DependencyHealthReader | None = None
    # Retrieval over past incidents, postmortems and runbooks, and the optional LLM.
    knowledge: Knowledge | None = None
    # SLOs (the `slo:` files) and capacity (the `capacity:` resources) with PROMETHEUS_URL.
    slo: SloReader | None = None
    capacity: CapacityReader | None = None
    schedules: ScheduleBook | None = None  # the scheduler's jobs, for `schedules`
    # Escalation and paging: on-call schedules, the policies and SLA targets, and
    # Alertmanager's silences (ALERTMANAGER_URL) for `snooze`.
    oncall: OncallDirectory | None = None
    escalation: EscalationRules | None = None
    sla: SlaRules | None = None
    silences: SilenceClient | None = None
    # The configured projects (`core.projects`); none configured: one team.
    projects: Projects = field(default_factory=Projects)
    # The labels that name an alert's or a series' service (`grouping.service_labels`).
    service_labels: tuple[str, ...] = DEFAULT_SERVICE_LABELS
    # Each project's policy rules (`core.policies`); a project without rules is absent.
    policies: Mapping[str, tuple[Rule, ...]] = field(default_factory=dict)


@dataclass
class SkillContext:
    invocation: Invocation
    now: datetime
    incidents: IncidentRepository
    episodes: EpisodeRepository
    alerts: AlertRepository
    users: UserRepository
    audit: AuditRepository
    registry: Registry
    runs: RunRepository
    trackers: BlastTrackerRepository
    changes: ChangeRepository
    contexts: IncidentContextRepository
    tools: SkillTools = field(default_factory=SkillTools)
    changed_incidents: set[int] = field(default_factory=set)
    runs_to_start: set[int] = field(default_factory=set)
    # A tracked message (a blast tracker) was opened or changed: the notifier should look.
    messages_changed: bool = False
    # The service topology as of this invocation; empty without a catalog.
    topology: Topology = field(default_factory=Topology)
    # Knowledge: votes, hints and answers (None only in contexts built without them).
    feedback: FeedbackRepository | None = None
    knowledge: KnowledgeRepository | None = None
    # A written (LLM) answer was requested: the answer writer should look.
    answers_requested: bool = False
    schedules: ScheduledRunRepository | None = None  # scheduled runs (reports, evaluations)
    escalations: EscalationRepository | None = None  # escalations, pages, SLA breaches
    project_roles: ProjectRoleRepository | None = None  # roles given in chat per project
    policy_firings: PolicyFiringRepository | None = None  # which policy rules fired where
    # What the actor may see and do, project by project; `incidents` above is scoped to it.
    access: ProjectAccess = field(default_factory=ProjectAccess)
    # The role the running skill needs; an incident it loads is checked against it.
    required_role: Role = Role.VIEWER

    @property
    def actor(self) -> Actor:
        return self.invocation.actor

    @property
    def conversation(self) -> Conversation:
        return self.invocation.conversation

    @property
    def role(self) -> Role:
        return self.actor.role or Role.VIEWER

    def incident_changed(self, incident: IncidentRow) -> None:
        """Mark the incident's chat message stale; it is re-rendered after the commit."""
        incident.revision += 1
        self.changed_incidents.add(incident.id)


@dataclass(frozen=True)
class Outside(Generic[T]):
    """Work a skill does outside the database transaction, returned by `handle` instead of
    a Reply: calls to machines (Prometheus, Loki, a Chroma server, an embedding model) and
    other slow work that needs no database, such as drawing a chart.

    The dispatcher commits what `handle` wrote and closes its unit of work, awaits
    `call()` with none open (on SQLite one open transaction holds every other writer,
    ingestion included, for as long as it lasts; on PostgreSQL it would hold the row locks
    `handle` took), then opens a fresh unit of work and awaits `then(ctx, result)`, which
    answers with the Reply or with another `Outside`. `call` must not touch the
    repositories of the context `handle` had; rows `handle` read are detached by then, so
    `then` reads what it changes again through its own context. Exceptions from either
    are mapped like those of `handle` (a `UserError` is one plain sentence)."""

    call: Callable[[], Awaitable[T]]
    then: Callable[[SkillContext, T], Awaitable[Answer]]


# What a skill's `handle` (and an `Outside.then`) answers with.
Answer = Reply | Outside[Any]


def outside_reply(call: Callable[[], Awaitable[Reply]]) -> Outside[Reply]:
    """Outside work that builds the whole Reply: nothing is stored afterwards."""
    return Outside(call=call, then=_as_is)


async def _as_is(_ctx: SkillContext, reply: Reply) -> Answer:
    return reply
