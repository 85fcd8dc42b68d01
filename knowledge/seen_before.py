""" "Seen before?": one reply in a new incident's thread when a resolved incident matches it
strongly: the same service, an alert in common, and close in description (cosine similarity
at least `seen_before_similarity`). Checked once per incident, after ingestion committed,
never on the way in."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from knowledge.service import Knowledge
from knowledge.similar import Match, incident_target, similar_incidents
from storage.database import Database

log = logging.getLogger(__name__)

RECENT = timedelta(hours=1)


def hint_record(matches: list[Match]) -> dict[str, Any]:
    return {
        "matches": [
            {
                "incident_id": m.incident_id,
                "title": m.document.title,
                "similarity": round(m.similarity or 0.0, 3),
                "reasons": list(m.reasons),
                "fix": m.fix,
                "runs": [list(run) for run in m.runs],
                "resolved_at": m.document.text_meta("resolved_at"),
                "minutes": m.document.meta.get("minutes"),
            }
            for m in matches
        ]
    }


@dataclass
class SeenBefore:
    """`per_project`: projects are configured, so a hint cites only past incidents of the
    new incident's own project (its thread is that project's)."""

    database: Database
    knowledge: Knowledge
    per_project: bool = False

    async def check_new(self, *, now: datetime) -> list[int]:
        """Check incidents opened in the last hour without a verdict; returns the ids that
        got a "Seen before?" reply."""
        async with self.database.unit_of_work() as uow:
            incidents = await uow.knowledge.new_incidents(since=now - RECENT)
        posted = []
        threshold = self.knowledge.rules.seen_before_similarity
        for incident in incidents:
            async with self.database.unit_of_work() as uow:
                target = await incident_target(uow, incident)
                behind = await self.knowledge.behind(uow.knowledge)
            # The index (Chroma, the embedder) is asked with no transaction open.
            knowledge = self.knowledge
            if self.per_project:
                knowledge = knowledge.scoped(frozenset({incident.project}))
            matches, _ = await similar_incidents(knowledge, target, limit=3, behind=behind)
            strong = [
                m
                for m in matches
                if (m.similarity or 0.0) >= threshold and m.same_service and m.shares_alert
            ]
            async with self.database.unit_of_work() as uow:
                if (
                    await uow.knowledge.add_hint(
                        incident_id=incident.id,
                        matched=bool(strong),
                        snapshot=hint_record(strong),
                        now=now,
                    )
                    and strong
                ):
                    posted.append(incident.id)
        return posted
