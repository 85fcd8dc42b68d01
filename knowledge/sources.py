"""Documents from the database: a resolved incident as the index remembers it — what it
looked like (title, services, alerts and their summaries), why it happened, and what fixed
it (the resolve note, notes, runbook runs and their outcomes, "This fixed it" votes)."""

from __future__ import annotations

from collections.abc import Sequence

from core.incident_summary import root_cause_from_record
from core.incidents import main_alert
from knowledge.documents import Document, incident_doc_id, to_meta
from knowledge.kinds import incident_kind
from storage.models import IncidentEventRow
from storage.uow import UnitOfWork

RUN_WORDS = {"succeeded": "worked", "failed": "did not help", "rolled_back": "failed, rolled back"}
MAX_SUMMARIES = 4
MAX_NOTES = 6


def resolution_note(events: Sequence[IncidentEventRow]) -> str:
    """What the person who resolved it said (the last resolve with a note)."""
    for event in reversed(events):
        if event.kind == "resolved":
            note = str((event.data or {}).get("note") or "").strip()
            if note:
                return note
            text = event.text
            if ": " in text and text.startswith("Resolved by"):
                return text.split(": ", 1)[1].strip()
    return ""


async def incident_documents(
    uow: UnitOfWork, incident_ids: Sequence[int]
) -> tuple[list[Document], list[str]]:
    """(documents of the resolved ones, ids to delete: reopened, merged or gone)."""
    incidents = await uow.incidents.get_many(incident_ids=incident_ids)
    wanted = [
        incidents[i]
        for i in incident_ids
        if i in incidents and incidents[i].status == "resolved" and incidents[i].merged_into is None
    ]
    keep = {row.id for row in wanted}
    deletions = [incident_doc_id(i) for i in incident_ids if i not in keep]
    ids = [row.id for row in wanted]
    briefs = await uow.alerts.briefs(incident_ids=ids)
    mains = {i: main_alert(b) for i, b in briefs.items() if b}
    annotations = await uow.alerts.annotations(keys=[(i, m.fingerprint) for i, m in mains.items()])
    events = await uow.knowledge.events_for(incident_ids=ids, kinds=("note", "resolved"))
    runs = await uow.knowledge.runs_for(incident_ids=ids)
    fixes = await uow.feedback.fixes(incident_ids=ids)
    documents = []
    for row in wanted:
        group = briefs.get(row.id, [])
        names = list(dict.fromkeys(b.name for b in group))
        services = sorted({b.service for b in group if b.service} | {row.service})
        notes = annotations.get(row.id, {})
        summaries = [
            str(notes[key]) for key in ("summary", "description", "message") if notes.get(key)
        ][:MAX_SUMMARIES]
        timeline = events.get(row.id, [])
        fix = resolution_note(timeline)
        remarks = [e.text for e in timeline if e.kind == "note"][-MAX_NOTES:]
        outcomes = runs.get(row.id, [])
        cause = root_cause_from_record(row.root_cause)
        lines = [row.title, f"Service: {row.service}"]
        if len(services) > 1:
            lines.append("Services: " + ", ".join(services))
        if names:
            lines.append("Alerts: " + ", ".join(names))
        if summaries:
            lines.append("Symptoms: " + "; ".join(summaries))
        if cause is not None:
            lines.append(f"Probable root cause: {cause.service}")
        if fix:
            lines.append(f"Fixed by: {fix}")
        if outcomes:
            lines.append(
                "Runbooks: "
                + "; ".join(f"{name} {RUN_WORDS.get(status, status)}" for name, status in outcomes)
            )
        if remarks:
            lines.append("Notes: " + " ".join(remarks))
        main = mains.get(row.id)
        documents.append(
            Document(
                id=incident_doc_id(row.id),
                kind="incident",
                title=row.title,
                text="\n".join(lines),
                meta=to_meta(
                    {
                        "incident_id": row.id,
                        "project": row.project,
                        "service": row.service,
                        "services": ",".join(services),
                        "alerts": ",".join(names),
                        "severity": row.severity,
                        "opened_at": row.created_at.isoformat(),
                        "resolved_at": row.resolved_at.isoformat() if row.resolved_at else None,
                        "minutes": round((row.resolved_at - row.created_at).total_seconds() / 60)
                        if row.resolved_at
                        else None,
                        "fix": fix,
                        "runs": ",".join(f"{name}:{status}" for name, status in outcomes),
                        "fixed_by": ",".join(dict.fromkeys(fixes.get(row.id, []))),
                        "incident_kind": incident_kind(row.service, main.name if main else ""),
                    }
                ),
            )
        )
    return documents, deletions
