"""What `runbooks` and `run` read of an incident and the catalog to fit runbooks and fill
their parameters: the incident's alerts, its probable root cause, the services' types."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from core.incident_summary import root_cause_from_record
from runbooks.catalog import CatalogEntry
from runbooks.fit import AlertFacts, Fit, ServiceFacts, fit
from skills.context import SkillContext
from storage.models import IncidentRow


def visible_runbooks(ctx: SkillContext) -> dict[str, CatalogEntry]:
    """The catalog as the actor sees it: every runbook no project claims, and those of the
    projects they are in."""
    return {
        name: entry
        for name, entry in ctx.tools.runbooks.entries().items()
        if not entry.runbook.project or ctx.access.can_see(entry.runbook.project)
    }


@dataclass(frozen=True)
class Suggestion:
    """A runbook that fits an incident: how well and why, how often it worked, and what keeps
    it from running on this Lookout (programs not on the allowlist)."""

    entry: CatalogEntry
    fit: Fit
    succeeded: int
    finished: int
    unavailable: tuple[str, ...]

    @property
    def success_rate(self) -> float:
        """Laplace's rule of succession: a runbook never run counts as a coin toss, one that
        worked 9 times in 10 above one that worked once in one."""
        return (self.succeeded + 1) / (self.finished + 2)

    @property
    def rank(self) -> tuple[float, int, float, str]:
        """Best first: fit, then runnable here, then past success, then name."""
        return (-self.fit.score, len(self.unavailable) > 0, -self.success_rate, self.name)

    @property
    def name(self) -> str:
        return self.entry.runbook.name


async def incident_alerts(ctx: SkillContext, incident: IncidentRow) -> list[AlertFacts]:
    """The incident's alerts as fitting reads them, firing ones first."""
    rows = await ctx.alerts.for_incident(incident_id=incident.id)
    facts = [
        AlertFacts(
            name=row.name,
            labels={str(k): str(v) for k, v in row.labels.items()},
            service=row.service,
            firing=row.status == "firing",
            generator_url=row.generator_url,
        )
        for row in rows
    ]
    return [a for a in facts if a.firing] + [a for a in facts if not a.firing]


def catalog_services(ctx: SkillContext) -> dict[str, ServiceFacts]:
    """The service catalog by name, as fitting reads it (type, runbooks it lists)."""
    return {
        name: ServiceFacts(name=name, type=service.type, runbooks=service.runbooks)
        for name, service in ctx.topology.services.items()
    }


def service_names(ctx: SkillContext) -> Collection[str] | None:
    """The catalog's services, for `service` parameters; None (anything goes) without one."""
    return set(ctx.topology.services) or None


def root_cause(incident: IncidentRow) -> str | None:
    """The incident's probable root-cause service, else the service it is named after."""
    cause = root_cause_from_record(incident.root_cause)
    return cause.service if cause else incident.service


async def suggestions(
    ctx: SkillContext, incident: IncidentRow, entries: Sequence[CatalogEntry]
) -> list[Suggestion]:
    """The runbooks among `entries` that fit `incident`, best first."""
    alerts = await incident_alerts(ctx, incident)
    services = catalog_services(ctx)
    cause = root_cause(incident)
    outcomes = await ctx.runs.outcomes()
    planner = ctx.tools.planner
    found = []
    for entry in entries:
        how = fit(entry.runbook, alerts, services=services, root_cause=cause)
        if not how:
            continue
        good, done = outcomes.get(entry.runbook.name, (0, 0))
        missing = tuple(planner.unavailable_programs(entry.runbook)) if planner else ()
        found.append(Suggestion(entry, how, good, done, missing))
    return sorted(found, key=lambda suggestion: suggestion.rank)
