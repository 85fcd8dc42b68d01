"""Past incidents like this one (or like a description), with why they match and what fixed
them: the hybrid index finds them; the reasons an on-call engineer checks — shared alerts,
the same service, shared words — are computed from the documents, so every match says why.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

from core.incident_summary import root_cause_from_record
from core.incidents import AlertBrief, display_id
from knowledge.documents import Document, DocumentKind, incident_doc_id, without_layout
from knowledge.index import WORDS_EVIDENCE, Hit
from knowledge.kinds import kind_of
from knowledge.lexical import tokenize
from knowledge.service import Knowledge, Reader
from knowledge.synonyms import Thesaurus, same_meaning
from storage.models import IncidentRow

MAX_WORDS = 4
# Words of the documents' own layout ("Service:", "Alerts:", "and 2 other alerts"), not of
# the incidents: sharing them says nothing.
LAYOUT_WORDS = frozenset(
    [
        "service",
        "services",
        "alert",
        "alerts",
        "symptoms",
        "other",
        "probable",
        "root",
        "cause",
        "fixed",
        "runbooks",
        "notes",
        "worked",
        "help",
    ]
)
INCIDENTS: tuple[DocumentKind, ...] = ("incident",)


@dataclass(frozen=True)
class Target:
    """What is being matched: an incident's description, or free text."""

    text: str
    service: str | None = None
    services: frozenset[str] = frozenset()
    alerts: frozenset[str] = frozenset()
    kind: str = ""
    incident_id: int | None = None


@dataclass(frozen=True)
class Match:
    document: Document
    incident_id: int
    score: float
    similarity: float | None
    reasons: tuple[str, ...]
    fix: str
    runs: tuple[tuple[str, str], ...] = field(default_factory=tuple)  # (runbook, status)

    @property
    def ref(self) -> str:
        return display_id(self.incident_id)

    @property
    def target(self) -> str:
        """The feedback target for this match."""
        return incident_doc_id(self.incident_id)

    @property
    def same_service(self) -> bool:
        return any(r.startswith("same service") for r in self.reasons)

    @property
    def shares_alert(self) -> bool:
        return any(r.startswith("alert") for r in self.reasons)


async def incident_target(reader: Reader, incident: IncidentRow) -> Target:
    """The incident described the way the index describes resolved ones (without the fix),
    its probable root cause's alerts first: symptoms elsewhere say less about what it is."""
    briefs = (await reader.alerts.briefs(incident_ids=[incident.id]))[incident.id]
    cause = root_cause_from_record(incident.root_cause)
    focus = [b for b in briefs if cause is not None and b.service == cause.service]
    return target_from(incident, briefs, await _summaries(reader, incident, focus or briefs))


def target_from(
    incident: IncidentRow, briefs: Sequence[AlertBrief], summaries: list[str]
) -> Target:
    cause = root_cause_from_record(incident.root_cause)
    focus = [b for b in briefs if cause is not None and b.service == cause.service] or list(briefs)
    main = list(dict.fromkeys(b.name for b in focus))
    names = list(dict.fromkeys([*main, *(b.name for b in briefs)]))
    services = sorted({b.service for b in briefs if b.service} | {incident.service})
    lines = [incident.title, f"Service: {incident.service}"]
    if main:
        lines.append("Alerts: " + ", ".join(main))
    if summaries:
        lines.append("Symptoms: " + "; ".join(summaries))
    return Target(
        text="\n".join(lines),
        service=incident.service,
        services=frozenset(services),
        alerts=frozenset(names),
        kind=kind_of(incident.service, briefs),
        incident_id=incident.id,
    )


async def _summaries(
    reader: Reader, incident: IncidentRow, briefs: Sequence[AlertBrief]
) -> list[str]:
    keys = list(dict.fromkeys((incident.id, b.fingerprint) for b in briefs))[:20]
    found: list[str] = []
    for _, fingerprint in keys:
        notes = (await reader.alerts.annotations(keys=[(incident.id, fingerprint)])).get(
            incident.id, {}
        )
        for key in ("summary", "description", "message"):
            value = str(notes.get(key) or "")
            if value and value not in found:
                found.append(value)
    return found[:4]


def reasons_for(
    target: Target, hit: Hit, thesaurus: Thesaurus | None = None, *, floor: float = 0.0
) -> list[str]:
    """Why `hit` matches `target`, in the words an engineer checks first; with a
    thesaurus, also what both say in different words ("KV store" ≈ "Redis"); "described
    alike" when the similarity reaches `floor`."""
    document = hit.document
    reasons: list[str] = []
    service = document.text_meta("service")
    if target.service and service == target.service:
        reasons.append(f"same service {service}")
    else:
        shared_services = target.services & set(document.list_meta("services"))
        if shared_services:
            reasons.append("also on " + ", ".join(sorted(shared_services)[:3]))
    shared_alerts = target.alerts & set(document.list_meta("alerts"))
    if shared_alerts:
        names = ", ".join(sorted(shared_alerts)[:3])
        plural = "s" if len(shared_alerts) > 1 else ""
        reasons.append(f"alert{plural} in common: {names}")
    skip = {t for name in target.alerts | target.services for t in tokenize(name)}
    ours_text, theirs_text = without_layout(target.text), without_layout(document.text)
    theirs = set(tokenize(theirs_text))
    words = [
        w
        for w in dict.fromkeys(tokenize(ours_text))
        if w not in skip
        and w not in LAYOUT_WORDS
        and len(w) > 2
        and not w.isdigit()
        and w in theirs
    ]
    # "postgresql" says it; its parts "postgre" and "sql" need not.
    words = [w for w in words if not any(w != other and w in other for other in words)]
    if words:
        reasons.append("shared words: " + ", ".join(words[:MAX_WORDS]))
    if thesaurus is not None:
        told = set(words) | skip | LAYOUT_WORDS
        alike = [
            (ours, theirs)
            for ours, theirs in same_meaning(thesaurus, ours_text, theirs_text)
            if not (set(tokenize(ours)) | set(tokenize(theirs))) & told
        ]
        if alike:
            said = ", ".join(f"{ours} ≈ {theirs}" for ours, theirs in alike[:MAX_WORDS])
            reasons.append(f"same meaning: {said}")
    if hit.similarity is not None and hit.similarity >= floor:
        reasons.append(f"described alike ({hit.similarity:.0%})")
    return reasons


async def similar_incidents(
    knowledge: Knowledge,
    target: Target,
    *,
    limit: int = 5,
    hidden: Collection[str] = (),
    exclude: Collection[str] = (),
    behind: int = 0,
) -> tuple[list[Match], list[str]]:
    """(matches best first, notes about the index). A match needs a reason beyond chance:
    close enough (`similar_min_similarity`) or sharing an alert, the service or words.
    Reads no database (`behind`: see `Knowledge.behind`), so it runs with no transaction
    open."""
    skip = set(exclude) | set(hidden)
    if target.incident_id is not None:
        skip.add(incident_doc_id(target.incident_id))
    result = await knowledge.search(
        target.text, limit=limit * 3, kinds=INCIDENTS, exclude=skip, behind=behind
    )
    floor = knowledge.rules.similar_min_similarity
    matches: list[Match] = []
    for hit in result.hits:
        document = hit.document
        incident_id = int(document.meta.get("incident_id", document.id.partition(":")[2]))
        reasons = reasons_for(target, hit, knowledge.index.thesaurus, floor=max(floor, 0.0))
        close = hit.similarity is not None and hit.similarity >= floor
        # Words are a reason for free text only when they hold half of what was typed:
        # "my kitchen sink is leaking memory" shares "memory" with many incidents.
        wordy = target.incident_id is not None or (hit.coverage or 0.0) >= WORDS_EVIDENCE
        evidence = [
            r
            for r in reasons
            if not r.startswith("described")
            and (wordy or not r.startswith(("shared words", "same meaning")))
        ]
        if not close and not evidence:
            continue
        runs = tuple(
            (name, status)
            for name, _, status in (item.partition(":") for item in document.list_meta("runs"))
        )
        matches.append(
            Match(
                document=document,
                incident_id=incident_id,
                score=hit.score,
                similarity=hit.similarity,
                reasons=tuple(reasons),
                fix=document.text_meta("fix"),
                runs=runs,
            )
        )
        if len(matches) == limit:
            break
    return matches, result.notes
