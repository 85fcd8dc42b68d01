"""What the knowledge commands share: the knowledge layer or a clear sentence, the
repositories, an incident's kind and target, and the 👍/👎 buttons."""

from __future__ import annotations

from dataclasses import dataclass

from core.incidents import display_id
from knowledge.index import SearchResult
from knowledge.service import Knowledge
from knowledge.similar import Match, Target, incident_target, similar_incidents
from knowledge.suggestions import runbook_search
from runbooks.fit import fit
from skills.commands.runbook_facts import (
    catalog_services,
    incident_alerts,
    root_cause,
    visible_runbooks,
)
from skills.context import SkillContext
from skills.contract import Actions, Button, Context
from skills.errors import UserError
from storage.alerts import AlertRepository
from storage.feedback import FeedbackRepository
from storage.knowledge import KnowledgeRepository
from storage.models import IncidentRow


class KnowledgeUnavailableError(UserError):
    outcome = "unavailable"


def knowledge_of(ctx: SkillContext) -> Knowledge:
    """Retrieval as the actor may use it: searching only the projects they see (and
    everyone's runbooks). Raises KnowledgeUnavailableError when retrieval is not set up."""
    if ctx.tools.knowledge is None:
        raise KnowledgeUnavailableError(
            "Retrieval is not set up in this Lookout, so it cannot look through past incidents."
        )
    return ctx.tools.knowledge.scoped(ctx.access.visible)


def repositories(ctx: SkillContext) -> tuple[KnowledgeRepository, FeedbackRepository]:
    if ctx.knowledge is None or ctx.feedback is None:
        raise KnowledgeUnavailableError("Retrieval has no database here.")
    return ctx.knowledge, ctx.feedback


@dataclass(frozen=True)
class ContextReader:
    """The repositories retrieval reads (`knowledge.service.Reader`), from a skill's context."""

    alerts: AlertRepository
    knowledge: KnowledgeRepository
    feedback: FeedbackRepository


def reader_of(ctx: SkillContext) -> ContextReader:
    knowledge, feedback = repositories(ctx)
    return ContextReader(ctx.alerts, knowledge, feedback)


async def target_of(ctx: SkillContext, incident: IncidentRow) -> Target:
    return await incident_target(reader_of(ctx), incident)


async def behind_of(ctx: SkillContext, knowledge: Knowledge) -> int:
    """How far the index is behind the database, read before searching outside the
    transaction (see `Knowledge.behind`)."""
    repository, _ = repositories(ctx)
    return await knowledge.behind(repository)


@dataclass(frozen=True)
class FixSearch:
    """An incident's similar past incidents and runbooks, found with no transaction open;
    `suggest` and `explain` rank them with people's votes afterwards."""

    matches: list[Match]
    notes: list[str]
    runbooks: SearchResult


async def search_fixes(
    knowledge: Knowledge, target: Target, *, behind: int, limit: int
) -> FixSearch:
    matches, notes = await similar_incidents(knowledge, target, limit=limit, behind=behind)
    runbooks = await runbook_search(knowledge, target, behind=behind)
    return FixSearch(matches, notes, runbooks)


def vote_buttons(
    target: str, *, incident_id: int | None, fixed: bool = False, label: str = ""
) -> list[Button]:
    """👍 / 👎 (and "This fixed it") for one suggestion or answer."""
    where = ("--incident", display_id(incident_id)) if incident_id is not None else ()
    suffix = f" {label}" if label else ""
    buttons = [
        Button(f"👍{suffix}", "feedback", ("up", target, *where)),
        Button(f"👎{suffix}", "feedback", ("down", target, *where)),
    ]
    if fixed and incident_id is not None:
        buttons.append(Button("This fixed it", "feedback", ("fixed", target, *where), "primary"))
    return buttons


def feedback_row(target: str, *, incident_id: int | None, fixed: bool = False) -> Actions:
    return Actions(tuple(vote_buttons(target, incident_id=incident_id, fixed=fixed)))


def notes_block(notes: list[str]) -> list[Context]:
    return [Context("⚠️ " + " ".join(notes))] if notes else []


async def triggered_runbooks(ctx: SkillContext, incident: IncidentRow) -> dict[str, float]:
    """Runbooks that fit the incident (`runbooks.fit`), with their relevance in (0, 1]: the
    best fit is 1, the others in proportion."""
    alerts = await incident_alerts(ctx, incident)
    services = catalog_services(ctx)
    cause = root_cause(incident)
    scores = {
        name: found.score
        for name, entry in visible_runbooks(ctx).items()
        if (found := fit(entry.runbook, alerts, services=services, root_cause=cause))
    }
    best = max(scores.values(), default=0.0)
    return {name: score / best for name, score in scores.items()} if best else {}
