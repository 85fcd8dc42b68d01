"""Similar past incidents, by what an on-call engineer would compare: the service, the alerts
that fired, the words of the title — and what fixed it last time.

Deterministic and offline: a weighted overlap of services and alert names plus a TF-IDF
cosine over titles, so an answer can say exactly why each match was chosen.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from core.incidents import AlertBrief
from storage.alerts import AlertRepository
from storage.incidents import IncidentRepository
from storage.models import IncidentRow

CANDIDATES = 500
WEIGHTS = {"service": 3.0, "services": 1.0, "alerts": 4.0, "title": 2.0}
THRESHOLD = 1.0
_WORD = re.compile(r"[a-z0-9]+")


@dataclass(frozen=True)
class Match:
    incident: IncidentRow
    score: float
    reasons: tuple[str, ...]
    resolution: str | None


@dataclass(frozen=True)
class _Profile:
    service: str
    services: frozenset[str]
    alerts: frozenset[str]
    words: Counter[str]


def _profile(incident: IncidentRow, briefs: Iterable[AlertBrief]) -> _Profile:
    group = list(briefs)
    return _Profile(
        service=incident.service,
        services=frozenset(b.service for b in group if b.service),
        alerts=frozenset(b.name for b in group),
        words=Counter(_WORD.findall(incident.title.lower())),
    )


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / len(a | b) if a | b else 0.0


def _cosine(a: Counter[str], b: Counter[str], idf: dict[str, float]) -> float:
    dot = sum(a[w] * b[w] * idf.get(w, 0.0) ** 2 for w in a.keys() & b.keys())
    norm_a = math.sqrt(sum((n * idf.get(w, 0.0)) ** 2 for w, n in a.items()))
    norm_b = math.sqrt(sum((n * idf.get(w, 0.0)) ** 2 for w, n in b.items()))
    return dot / (norm_a * norm_b) if norm_a and norm_b else 0.0


def _score(target: _Profile, other: _Profile, idf: dict[str, float]) -> tuple[float, list[str]]:
    reasons: list[str] = []
    score = 0.0
    if target.service == other.service and target.service != "unknown":
        score += WEIGHTS["service"]
        reasons.append(f"same service {target.service}")
    shared_services = target.services & other.services - {target.service}
    if shared_services:
        score += WEIGHTS["services"] * _jaccard(target.services, other.services)
        reasons.append("also " + ", ".join(sorted(shared_services)[:3]))
    shared_alerts = target.alerts & other.alerts
    if shared_alerts:
        score += WEIGHTS["alerts"] * _jaccard(target.alerts, other.alerts)
        names = ", ".join(sorted(shared_alerts)[:3])
        reasons.append(
            f"{len(shared_alerts)} alert{'s' if len(shared_alerts) > 1 else ''} in common ({names})"
        )
    title = _cosine(target.words, other.words, idf)
    if title > 0.3:
        score += WEIGHTS["title"] * title
        reasons.append(f"similar title ({title:.0%})")
    return score, reasons


async def similar_incidents(
    *,
    incidents: IncidentRepository,
    alerts: AlertRepository,
    incident: IncidentRow,
    limit: int = 5,
) -> list[Match]:
    """The past incidents most like `incident`, best first, each with its reasons and how it
    was resolved (the note of its "resolved" event)."""
    pool = [
        row for row in await incidents.find(status="all", limit=CANDIDATES) if row.id != incident.id
    ]
    if not pool:
        return []
    briefs = await alerts.briefs(incident_ids=[incident.id, *(row.id for row in pool)])
    target = _profile(incident, briefs[incident.id])
    profiles = {row.id: _profile(row, briefs[row.id]) for row in pool}
    documents = [target.words, *(p.words for p in profiles.values())]
    frequency = Counter(word for words in documents for word in words)
    idf = {
        word: math.log((1 + len(documents)) / (1 + count)) + 1 for word, count in frequency.items()
    }
    scored = []
    for row in pool:
        score, reasons = _score(target, profiles[row.id], idf)
        if score >= THRESHOLD:
            scored.append((score, row, reasons))
    scored.sort(key=lambda item: (-item[0], -item[1].id))
    top = scored[:limit]
    resolutions = await incidents.events_of_kind(
        incident_ids=[row.id for _, row, _ in top], kind="resolved"
    )
    return [
        Match(
            incident=row,
            score=score,
            reasons=tuple(reasons),
            resolution=resolutions[row.id][-1].text if resolutions[row.id] else None,
        )
        for score, row, reasons in top
    ]
