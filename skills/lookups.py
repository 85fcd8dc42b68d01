"""Finding what a command names, with the error a user can act on."""

from __future__ import annotations

from core.incidents import display_id, parse_incident_id
from skills.context import SkillContext
from skills.errors import NotFoundError, UsageError
from storage.models import IncidentRow


async def load_incident(ctx: SkillContext, reference: str | None) -> IncidentRow:
    """The incident named by `reference`, or the one whose thread we are in. Raises
    UsageError, NotFoundError (none, or one of a project the actor is not in) or
    PermissionDeniedError (the actor's role in its project is below the skill's)."""
    if reference is None:
        if ctx.conversation.incident_id is None:
            raise UsageError("Which incident? Give its id, e.g. `INC-42`, or ask in its thread.")
        incident_id = ctx.conversation.incident_id
    else:
        try:
            incident_id = parse_incident_id(reference)
        except ValueError as error:
            raise UsageError(f"{error}.") from None
    incident = await ctx.incidents.get(incident_id=incident_id, for_update=True)
    if incident is None:  # or another project's, which the actor may not see
        raise NotFoundError(f"There is no incident {display_id(incident_id)}.")
    ctx.access.require(
        incident.project, ctx.required_role, ctx.invocation.skill, display_id(incident_id)
    )
    return incident


def sees_service(ctx: SkillContext, service: str | None) -> bool:
    """Whether the actor sees `service`'s things (its SLOs, resources): it is of a project
    they are in (`Projects.of_service`; what no project owns is the default project's).
    Always True with no projects configured."""
    visible = ctx.access.visible
    return visible is None or ctx.tools.projects.of_service(service) in visible


def sees_every_project(ctx: SkillContext) -> bool:
    """Whether the actor is a member of every project (the default one included), so that
    what is not split by project (a raw PromQL query, a trace across services) hides nothing
    from them. Always True with no projects configured."""
    visible = ctx.access.visible
    return visible is None or visible >= set(ctx.tools.projects.names)


def incident_first(first: str | None, rest: str | None) -> tuple[str | None, str | None]:
    """(incident reference, the rest) of a command whose incident may be left out: when the
    first word does not read as an incident id it begins the rest (`severity critical` in
    an incident's thread)."""
    if first is None:
        return None, rest
    try:
        parse_incident_id(first)
    except ValueError:
        return None, " ".join(word for word in (first, rest) if word)
    return first, rest
