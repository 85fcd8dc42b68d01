"""Every skill Lookout ships, registered explicitly (no import-time discovery)."""

from __future__ import annotations

from lookout.skills.ack import AckSkill
from lookout.skills.approve import ApproveSkill
from lookout.skills.blast_radius import BlastRadiusSkill
from lookout.skills.cancel import CancelSkill
from lookout.skills.confirm import ConfirmSkill
from lookout.skills.help import HelpSkill
from lookout.skills.incidents import IncidentsSkill
from lookout.skills.merge import MergeSkill
from lookout.skills.note import NoteSkill
from lookout.skills.registry import Registry
from lookout.skills.reject import RejectSkill
from lookout.skills.resolve import ResolveSkill
from lookout.skills.run import RunSkill
from lookout.skills.runbooks import RunbooksSkill
from lookout.skills.show import ShowSkill
from lookout.skills.similar import SimilarSkill
from lookout.skills.split import SplitSkill
from lookout.skills.stats import StatsSkill
from lookout.skills.status import StatusSkill
from lookout.skills.timeline import TimelineSkill
from lookout.skills.topology import TopologySkill


def default_registry() -> Registry:
    registry = Registry()
    registry.register(HelpSkill())
    registry.register(IncidentsSkill())
    registry.register(ShowSkill())
    registry.register(AckSkill())
    registry.register(ResolveSkill())
    registry.register(SimilarSkill())
    # runbooks
    registry.register(RunbooksSkill())
    registry.register(RunSkill())
    registry.register(ApproveSkill())
    registry.register(RejectSkill())
    registry.register(CancelSkill())
    registry.register(ConfirmSkill())
    # incident intelligence (issue 5)
    registry.register(TimelineSkill())
    registry.register(NoteSkill())
    registry.register(StatusSkill())
    registry.register(MergeSkill())
    registry.register(SplitSkill())
    registry.register(BlastRadiusSkill())
    registry.register(TopologySkill())
    registry.register(StatsSkill())
    return registry
