"""Every skill Lookout ships, registered explicitly (no import-time discovery)."""

from __future__ import annotations

from skills.commands.ack import AckSkill
from skills.commands.approve import ApproveSkill
from skills.commands.ask import AskSkill
from skills.commands.assign import AssignSkill
from skills.commands.blast_radius import BlastRadiusSkill
from skills.commands.cancel import CancelSkill
from skills.commands.capacity import CapacitySkill
from skills.commands.change import ChangeSkill
from skills.commands.changes import ChangesSkill
from skills.commands.confirm import ConfirmSkill
from skills.commands.correlate import CorrelateSkill
from skills.commands.explain import ExplainSkill
from skills.commands.feedback import FeedbackSkill
from skills.commands.health import HealthSkill
from skills.commands.help import HelpSkill
from skills.commands.incidents import IncidentsSkill
from skills.commands.logs import LogsSkill
from skills.commands.merge import MergeSkill
from skills.commands.metrics import MetricsSkill
from skills.commands.note import NoteSkill
from skills.commands.oncall import OncallSkill
from skills.commands.policies import PoliciesSkill
from skills.commands.postmortem import PostmortemSkill
from skills.commands.projects import ProjectSkill, RoleSkill, WhoamiSkill
from skills.commands.reject import RejectSkill
from skills.commands.resolve import ResolveSkill
from skills.commands.run import RunSkill
from skills.commands.runbooks import RunbooksSkill
from skills.commands.schedules import SchedulesSkill
from skills.commands.severity import SeveritySkill
from skills.commands.show import ShowSkill
from skills.commands.similar import SimilarSkill
from skills.commands.sla import SlaSkill
from skills.commands.slo import SloSkill
from skills.commands.snooze import SnoozeSkill
from skills.commands.split import SplitSkill
from skills.commands.stats import StatsSkill
from skills.commands.status import StatusSkill
from skills.commands.suggest import SuggestSkill
from skills.commands.timeline import TimelineSkill
from skills.commands.topology import TopologySkill
from skills.commands.unack import UnackSkill
from skills.registry import Registry


def default_registry() -> Registry:
    registry = Registry()
    registry.register(HelpSkill())
    registry.register(IncidentsSkill())
    registry.register(ShowSkill())
    registry.register(AckSkill())
    registry.register(ResolveSkill())
    registry.register(SimilarSkill())
    registry.register(UnackSkill())
    registry.register(AssignSkill())
    registry.register(SeveritySkill())
    # runbooks
    registry.register(RunbooksSkill())
    registry.register(RunSkill())
    registry.register(ApproveSkill())
    registry.register(RejectSkill())
    registry.register(CancelSkill())
    registry.register(ConfirmSkill())
    # incident intelligence
    registry.register(TimelineSkill())
    registry.register(NoteSkill())
    registry.register(StatusSkill())
    registry.register(MergeSkill())
    registry.register(SplitSkill())
    registry.register(BlastRadiusSkill())
    registry.register(TopologySkill())
    registry.register(StatsSkill())
    # context: changes, metrics, logs, correlate
    registry.register(ChangesSkill())
    registry.register(ChangeSkill())
    registry.register(CorrelateSkill())
    registry.register(MetricsSkill())
    registry.register(LogsSkill())
    registry.register(HealthSkill())
    # knowledge
    registry.register(SuggestSkill())
    registry.register(AskSkill())
    registry.register(ExplainSkill())
    registry.register(PostmortemSkill())
    registry.register(FeedbackSkill())
    # reports and schedules
    registry.register(SloSkill())
    registry.register(CapacitySkill())
    registry.register(SchedulesSkill())
    # escalation and paging
    registry.register(OncallSkill())
    registry.register(SnoozeSkill())
    registry.register(SlaSkill())
    # people and projects
    registry.register(WhoamiSkill())
    registry.register(ProjectSkill())
    registry.register(RoleSkill())
    registry.register(PoliciesSkill())
    return registry
