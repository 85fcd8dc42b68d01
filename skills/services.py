"""Finding what a command says about services: the catalog, a service in it, its status."""

from __future__ import annotations

import difflib
from collections.abc import Mapping

from core.blast_radius import ServiceStatus
from core.severity import Severity
from core.topology import Topology
from skills.errors import NotFoundError

NO_CATALOG = (
    "Lookout knows no services yet: list them under `services:` in LOOKOUT_CONFIG, point "
    "`catalog.backstage` at your catalog-info.yaml files, or set PROMETHEUS_URL for the "
    "service graph."
)


def catalog(topology: Topology) -> Topology:
    """The topology, or a clear sentence when there is none."""
    if not len(topology):
        raise NotFoundError(NO_CATALOG)
    return topology


def known_service(topology: Topology, name: str) -> str:
    """`name` if the catalog has it, else an error that suggests close names."""
    if name in catalog(topology):
        return name
    close = difflib.get_close_matches(name, list(topology.services), n=3)
    hint = f" Did you mean {', '.join(f'`{c}`' for c in close)}?" if close else ""
    raise NotFoundError(f"There is no service `{name}` in the catalog.{hint}")


def statuses(firing: Mapping[str, Severity]) -> dict[str, ServiceStatus]:
    """failing (an error or worse firing), degraded (only lesser alerts); others healthy."""
    return {
        name: ServiceStatus.FAILING if worst >= Severity.ERROR else ServiceStatus.DEGRADED
        for name, worst in firing.items()
    }


def tier_text(tier: int | None) -> str:
    return str(tier) if tier is not None else "—"
