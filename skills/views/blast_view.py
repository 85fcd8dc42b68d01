"""What a blast-radius answer shows, shared by the skill and its live trackers: the walk over
the topology with statuses from open alerts and (when configured) Prometheus, where each
status came from, and the dependents table."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from core.blast_radius import AffectedService, BlastRadius, ServiceStatus, blast_radius
from core.incident_summary import service_failures
from core.incidents import AlertBrief
from core.service_health import combine, notes
from core.topology import Topology
from integrations.service_health import HealthSnapshot
from skills.contract import Block, Context, Table
from skills.services import tier_text

MAX_ROWS = 25
STATUS_MARKS = {"failing": "🔴 failing", "degraded": "🟠 degraded", "healthy": "🟢 healthy"}
COLUMNS = ("Service", "Depth", "Via", "Tier", "Team", "Status")


@dataclass(frozen=True)
class BlastView:
    result: BlastRadius
    # Where a status came from when Prometheus had a say in it: `error ratio 4.2 %`.
    notes: Mapping[str, str] = field(default_factory=dict)
    # A footnote on the statuses' sources, or why Prometheus could not add to them.
    sources: str | None = None
    # That one sentence alone, when Prometheus could not answer (all or some queries).
    problem: str | None = None


def failed_at(briefs: Sequence[AlertBrief]) -> dict[str, datetime]:
    """When each of an incident's services first alerted (the propagation's times)."""
    return {name: facts.first_alert_at for name, facts in service_failures(briefs).items()}


def blast_view(
    topology: Topology,
    service: str,
    *,
    alert_statuses: Mapping[str, ServiceStatus],
    health: HealthSnapshot | None,
    failed: Mapping[str, datetime] | None = None,
    what_if: bool = False,
) -> BlastView:
    """The blast radius of `service`, each status the worse of open alerts and Prometheus.
    Raises `UnknownServiceError` for a service the topology lacks."""
    readings = health.readings if health is not None else {}
    result = blast_radius(
        topology,
        service,
        combine(alert_statuses, readings),
        what_if=what_if,
        failed_at=failed,
    )
    return BlastView(
        result,
        notes(alert_statuses, readings),
        sources_sentence(health),
        health.problem if health is not None else None,
    )


def sources_sentence(health: HealthSnapshot | None) -> str | None:
    """None without Prometheus; else which queries stand behind the statuses, or the one
    sentence that says what Prometheus could not answer."""
    if health is None:
        return None
    if health.problem:
        return health.problem
    return f"Status from open alerts and Prometheus ({', '.join(health.answered)})."


def status_label(status: str, note: str | None) -> str:
    """`🟠 degraded (error ratio 4.2 %)`."""
    mark = STATUS_MARKS[status]
    return f"{mark} ({note})" if note else mark


def row_of(item: AffectedService, notes: Mapping[str, str]) -> tuple[str, ...]:
    return (
        item.name,
        str(item.depth),
        item.via,
        tier_text(item.tier),
        item.team or "—",
        status_label(item.status.value, notes.get(item.name)),
    )


def dependents_blocks(service: str, rows: Sequence[tuple[str, ...]], total: int) -> list[Block]:
    """The dependents table (its first MAX_ROWS rows), or the sentence for none."""
    if not total:
        return [Context(f"Nothing in the catalog depends on {service}.")]
    blocks: list[Block] = [Table(columns=COLUMNS, rows=tuple(rows[:MAX_ROWS]))]
    if total > MAX_ROWS:
        blocks.append(Context(f"…and {total - MAX_ROWS} more dependents"))
    return blocks
