"""Inhibition: symptoms downstream of a failing service are recorded but do not page.

Alertmanager's inhibit rules silence a target alert while a source alert fires with some
labels `equal`; they cannot say "downstream", so teams either page on every symptom or write
a rule per pair of services. Lookout knows the dependency graph: a warning on `checkout`
while `postgres-primary`, which `checkout` depends on, has a critical alert in the same
incident (same cluster) is a symptom. It joins the incident, shown as
"suppressed: downstream of postgres-primary", and sends no page and no re-notification.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from core.alerts import Alert
from core.grouping_rules import GroupingRules
from core.topology import Topology

if TYPE_CHECKING:
    from core.incident_state import ServiceState


@dataclass(frozen=True)
class Inhibition:
    """The failing service that inhibits an alert, how far upstream it is, and the text."""

    source: str
    hops: int
    reason: str


def find_inhibitor(
    alert: Alert,
    services: Mapping[str, ServiceState],
    *,
    topology: Topology,
    rules: GroupingRules,
) -> Inhibition | None:
    """The nearest service of an incident (`services`) that inhibits `alert`, if any."""
    inhibit = rules.inhibit
    service = alert.service
    if not inhibit.enabled or service is None or alert.severity > inhibit.target_max_severity:
        return None
    sources = {name for name, state in services.items() if state.severe_scope}
    sources.discard(service)
    if not sources:
        return None
    upstream = topology.upstream(service, inhibit.max_hops)
    best: tuple[int, str] | None = None
    for name in sources & upstream.keys():
        scope = services[name].severe_scope
        if all(alert.labels.get(label, "") in scope.get(label, {""}) for label in inhibit.equal):
            candidate = (upstream[name], name)
            best = candidate if best is None or candidate < best else best
    if best is None:
        return None
    hops, name = best
    return Inhibition(source=name, hops=hops, reason=f"suppressed: downstream of {name}")


def possible_inhibitors(
    alerts: Iterable[Alert], *, topology: Topology, rules: GroupingRules
) -> set[str]:
    """Every service whose severe alerts could inhibit one of `alerts`: those upstream (within
    the rule's hops) of an alert mild enough to be inhibited. Callers that summarize incidents
    from storage need the severe alerts of these services only."""
    inhibit = rules.inhibit
    if not inhibit.enabled:
        return set()
    found: set[str] = set()
    for service in {
        alert.service
        for alert in alerts
        if alert.service is not None and alert.severity <= inhibit.target_max_severity
    }:
        found.update(topology.upstream(service, inhibit.max_hops))
    return found
