"""What the knowledge commands share: the knowledge layer or a clear sentence, the
repositories, an incident's kind and target, and the 👍/👎 buttons."""

from __future__ import annotations

from dataclasses import dataclass

from core.incidents import display_id
from knowledge.service import Knowledge
from knowledge.similar import Target, incident_target
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
    if ctx.tools.knowledge is None:
        raise KnowledgeUnavailableError(
            "Retrieval is not set up in this Lookout, so it cannot look through past incidents."
        )
    return ctx.tools.knowledge


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
    """Runbooks whose triggers match one of the incident's alerts, with their relevance:
    1.0 for an alert of the incident's own service (its probable cause is there), 0.6 for a
    symptom elsewhere."""
    alerts = await ctx.alerts.for_incident(incident_id=incident.id)
    found: dict[str, float] = {}
    for name, entry in ctx.tools.runbooks.entries().items():
        for alert in alerts:
            if entry.runbook.suggested_for(
                alertname=alert.name, labels=dict(alert.labels), service=alert.service
            ):
                weight = 1.0 if alert.service in (None, incident.service) else 0.6
                found[name] = max(found.get(name, 0.0), weight)
    return found
