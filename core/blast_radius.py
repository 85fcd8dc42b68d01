"""Blast radius: everything that depends on a service, and what it is worth.

`blast_radius(topology, "postgres", statuses)` walks the precomputed dependents of the
topology breadth-first, so each affected service comes with its depth (hops from the
service), the dependency it is reached through, its tier, team and current status, and the
result sums the users and revenue annotations of the service and all its dependents — and
says how many have none, since a figure the catalog lacks is unknown, not zero. The
same call answers "what if postgres failed?" for a healthy service (`what_if=True`).

On an incident, `propagation` orders the failing services by first alert and says, for each,
which failing dependency it most probably caught the failure from and how long after.
"""

from __future__ import annotations

import difflib
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import NamedTuple

from core.alerts import Alert
from core.severity import Severity
from core.topology import Topology
from core.wording import clock, duration, plural


class ServiceStatus(StrEnum):
    FAILING = "failing"
    DEGRADED = "degraded"
    HEALTHY = "healthy"


class UnknownServiceError(LookupError):
    """The topology has no such service; the message suggests close names."""

    def __init__(self, name: str, known: Iterable[str]) -> None:
        close = difflib.get_close_matches(name, list(known), n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        super().__init__(f"no service named {name!r} in the catalog{hint}")
        self.name = name
        self.suggestions = close


class AffectedService(NamedTuple):
    """A dependent of the service (a NamedTuple: thousands are built per call)."""

    name: str
    depth: int
    via: str
    tier: int | None
    team: str | None
    status: ServiceStatus
    users: int | None
    revenue_per_hour: float | None


@dataclass(frozen=True)
class PropagationStep:
    """`service` failed at `failed_at`, most probably because `after` had failed `delay`
    before (None for the first failure, or one with no failing dependency)."""

    service: str
    failed_at: datetime
    after: str | None
    delay: timedelta | None


@dataclass(frozen=True)
class BlastRadius:
    service: str
    status: ServiceStatus
    what_if: bool
    affected: tuple[AffectedService, ...]
    # Sums over the service and its dependents of the figures the catalog gives; None when
    # no service in the radius has one (unknown, which is not zero).
    users: int | None
    revenue_per_hour: float | None
    propagation: tuple[PropagationStep, ...] = ()
    # How many services in the radius (the service included) have no figure.
    users_unknown: int = 0
    revenue_unknown: int = 0
    dependents_by_service: Mapping[str, tuple[str, ...]] = field(
        default_factory=dict, repr=False, compare=False
    )

    def edges(self) -> list[tuple[str, str]]:
        """Every (dependent, dependency) edge inside the affected subgraph, built on demand
        (a picture needs them; a chat answer does not, and a 5,000-service walk should not
        allocate 11,000 tuples nobody reads)."""
        inside = [self.service, *(item.name for item in self.affected)]
        return [
            (name, dependency)
            for dependency in inside
            for name in self.dependents_by_service.get(dependency, ())
        ]

    @property
    def depth(self) -> int:
        return max((item.depth for item in self.affected), default=0)

    def status_counts(self) -> Counter[ServiceStatus]:
        return Counter(item.status for item in self.affected)

    def worth(self) -> str:
        """Users and revenue as far as the catalog says: `120,000 users, 4,500/h revenue`;
        `at least 1,000 users` when some services in the radius lack a figure; `users and
        revenue unknown` when none has one. A figure of zero is said as zero."""
        users = _figure(
            None if self.users is None else plural(self.users, "user"), self.users_unknown
        )
        revenue = _figure(
            None if self.revenue_per_hour is None else f"{self.revenue_per_hour:,.0f}/h revenue",
            self.revenue_unknown,
        )
        if users is None and revenue is None:
            return "users and revenue unknown"
        return f"{users or 'users unknown'}, {revenue or 'revenue unknown'}"

    def summary(self, *, named: bool = True) -> str:
        """One line for chat: `postgres: 14 dependent services (3 failing, 2 degraded), up to
        4 hops; 120,000 users, 4,500/h revenue` (see `worth` for figures the catalog lacks);
        `named=False` leaves out the service (and the "What if … failed?" question), for a
        line under a title that already says it."""
        counts = self.status_counts()
        head = f"What if {self.service} failed? " if self.what_if else f"{self.service}: "
        head = head if named else ""
        noun = "service" if len(self.affected) == 1 else "services"
        states = ", ".join(
            f"{counts[status]} {status}"
            for status in (ServiceStatus.FAILING, ServiceStatus.DEGRADED)
            if counts[status]
        )
        hops = f", up to {plural(self.depth, 'hop')}" if self.depth else ""
        return (
            f"{head}{len(self.affected)} dependent {noun}"
            + (f" ({states})" if states else "")
            + f"{hops}; {self.worth()}"
        )


def _figure(known: str | None, unknown: int) -> str | None:
    """A summed figure, `at least` when some services have none; None when none has one."""
    if known is None:
        return None
    return f"at least {known}" if unknown else known


def statuses_from_alerts(alerts: Iterable[Alert]) -> dict[str, ServiceStatus]:
    """Current status per service from open alerts: an error or critical alert firing means
    failing, a lesser one degraded; services without firing alerts are healthy (absent)."""
    statuses: dict[str, ServiceStatus] = {}
    for alert in alerts:
        service = alert.service
        if not alert.firing or service is None:
            continue
        status = (
            ServiceStatus.FAILING if alert.severity >= Severity.ERROR else ServiceStatus.DEGRADED
        )
        if statuses.get(service) is not ServiceStatus.FAILING:
            statuses[service] = status
    return statuses


def blast_radius(
    topology: Topology,
    service: str,
    statuses: Mapping[str, ServiceStatus] | None = None,
    *,
    what_if: bool = False,
    failed_at: Mapping[str, datetime] | None = None,
) -> BlastRadius:
    """Every service that depends on `service`, transitively, with depth and status.

    `failed_at` (failing service → first alert, from the incident) adds the propagation path
    within the affected subgraph; it is ignored in what-if mode, where nothing failed yet.
    """
    if service not in topology:
        raise UnknownServiceError(service, topology.services)
    statuses = statuses or {}
    services = topology.services
    dependents_of = topology.dependents_by_service
    healthy = ServiceStatus.HEALTHY
    origin = services[service]
    seen = {service}
    affected: list[AffectedService] = []
    frontier = [service]
    depth = 0
    users = origin.users or 0
    revenue = origin.revenue_per_hour or 0.0
    users_unknown = int(origin.users is None)
    revenue_unknown = int(origin.revenue_per_hour is None)
    # The hot loop of a 5,000-service walk: locals only, one tuple per service; breadth-first
    # order is already by depth, so nothing is sorted.
    while frontier:
        depth += 1
        following: list[str] = []
        for current in frontier:
            for name in dependents_of[current]:
                if name in seen:
                    continue
                seen.add(name)
                following.append(name)
                item = services[name]
                if item.users is None:
                    users_unknown += 1
                else:
                    users += item.users
                if item.revenue_per_hour is None:
                    revenue_unknown += 1
                else:
                    revenue += item.revenue_per_hour
                affected.append(
                    AffectedService(
                        name,
                        depth,
                        current,
                        item.tier,
                        item.team,
                        statuses.get(name, healthy),
                        item.users,
                        item.revenue_per_hour,
                    )
                )
        frontier = following
    steps: tuple[PropagationStep, ...] = ()
    if failed_at and not what_if:
        steps = propagation(topology, {n: t for n, t in failed_at.items() if n in seen})
    return BlastRadius(
        service=service,
        status=statuses.get(service, healthy),
        what_if=what_if,
        affected=tuple(affected),
        dependents_by_service=dependents_of,
        users=users if users_unknown <= len(affected) else None,
        revenue_per_hour=revenue if revenue_unknown <= len(affected) else None,
        propagation=steps,
        users_unknown=users_unknown,
        revenue_unknown=revenue_unknown,
    )


def propagation(
    topology: Topology, failed_at: Mapping[str, datetime]
) -> tuple[PropagationStep, ...]:
    """Failing services in order of first alert, each with the failing dependency (nearest
    in hops, then latest before it) that failed before it."""
    steps = []
    for name, at in sorted(failed_at.items(), key=lambda item: (item[1], item[0])):
        upstream = topology.upstream(name)
        earlier = [
            other
            for other, other_at in failed_at.items()
            if other != name and other in upstream and other_at <= at
        ]
        if not earlier:
            steps.append(PropagationStep(name, at, None, None))
            continue
        cause = min(earlier, key=lambda other: (upstream[other], at - failed_at[other], other))
        steps.append(PropagationStep(name, at, cause, at - failed_at[cause]))
    return tuple(steps)


def describe_propagation(steps: Iterable[PropagationStep]) -> list[str]:
    """`03:00:12 postgres failed`, `03:00:52 checkout failed, 40 s after postgres`."""
    lines = []
    for step in steps:
        line = f"{clock(step.failed_at)} {step.service} failed"
        if step.after is not None and step.delay is not None:
            line += f", {duration(step.delay)} after {step.after}"
        lines.append(line)
    return lines
