"""Every skill Lookout ships, registered explicitly (no import-time discovery)."""

from __future__ import annotations

from lookout.skills.ack import AckSkill
from lookout.skills.help import HelpSkill
from lookout.skills.incidents import IncidentsSkill
from lookout.skills.registry import Registry
from lookout.skills.resolve import ResolveSkill
from lookout.skills.show import ShowSkill
from lookout.skills.similar import SimilarSkill


def default_registry() -> Registry:
    registry = Registry()
    registry.register(HelpSkill())
    registry.register(IncidentsSkill())
    registry.register(ShowSkill())
    registry.register(AckSkill())
    registry.register(ResolveSkill())
    registry.register(SimilarSkill())
    return registry
