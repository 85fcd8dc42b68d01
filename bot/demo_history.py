"""The demo's past: about thirty resolved incidents with their alerts, notes, runbook runs,
the fix and who said what fixed it (`demo_data/incidents.yaml`), plus a few postmortems in
`demo_data/postmortems/` — written for Lookout, so `similar`, `suggest`, `ask`, `explain`
and "Seen before?" have something real to find."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from core.alerts import Alert, fingerprint
from knowledge.kinds import incident_kind
from storage.runs import RUN_MESSAGE, touch
from storage.uow import UnitOfWork

DEMO_DATA = Path(__file__).parent / "demo_data"
POSTMORTEMS = DEMO_DATA / "postmortems"
INCIDENTS = DEMO_DATA / "incidents.yaml"


@dataclass(frozen=True)
class PastIncident:
    service: str
    alerts: list[tuple[str, str, str]]  # (alertname, severity, summary)
    days: float
    minutes: float
    by: str
    fix: str
    notes: list[str] = field(default_factory=list)
    runs: list[tuple[str, str]] = field(default_factory=list)  # (runbook, outcome)
    fixed: list[str] = field(default_factory=list)  # feedback targets marked "This fixed it"

    @property
    def title(self) -> str:
        first = self.alerts[0][0]
        more = len(self.alerts) - 1
        return f"{self.service}: {first}" + (
            f" and {more} other alert{'s' if more > 1 else ''}" if more else ""
        )


def past_incidents(path: Path = INCIDENTS) -> list[PastIncident]:
    raw: list[dict[str, Any]] = yaml.safe_load(path.read_text())
    return [
        PastIncident(
            service=item["service"],
            alerts=[(str(a[0]), str(a[1]), str(a[2])) for a in item["alerts"]],
            days=float(item["days"]),
            minutes=float(item["minutes"]),
            by=str(item["by"]),
            fix=str(item["fix"]),
            notes=[str(n) for n in item.get("notes", [])],
            runs=[tuple(str(r).split(":", 1)) for r in item.get("runs", [])],  # type: ignore[misc]
            fixed=[str(f) for f in item.get("fixed", [])],
        )
        for item in raw
    ]


async def seed_past(uow: UnitOfWork, now: datetime) -> list[int]:
    """Write the past incidents (resolved, rendered as already posted); their ids in order."""
    ids = []
    occurrences: dict[str, int] = {}  # an alert that fired in several past incidents
    for past in past_incidents():
        started = now - timedelta(days=past.days)
        resolved = started + timedelta(minutes=past.minutes)
        incident = await uow.incidents.create(
            title=past.title,
            severity=max((a[1] for a in past.alerts), key=_rank),
            service=past.service,
            first_alert_at=started,
            now=started,
        )
        ids.append(incident.id)
        for offset, (name, severity, summary) in enumerate(past.alerts):
            labels = {"alertname": name, "service": past.service, "severity": severity}
            at = started + timedelta(seconds=20 * offset)
            alert = Alert(
                fingerprint=fingerprint(labels),
                status="resolved",
                starts_at=at,
                ends_at=resolved,
                labels=labels,
                annotations={"summary": summary},
            )
            occurrences[alert.fingerprint] = occurrences.get(alert.fingerprint, 0) + 1
            row = await uow.alerts.add(
                alert=alert,
                incident_id=incident.id,
                now=at,
                occurrence=occurrences[alert.fingerprint],
            )
            await uow.flush()
            await uow.incidents.link_alert(
                incident_id=incident.id, alert_id=row.id, reason="first alert", now=at
            )
        acked = started + timedelta(minutes=min(4, past.minutes / 4))
        await uow.episodes.acknowledged(incident=incident, by=past.by, at=acked)
        await uow.episodes.resolved(
            incident=incident, by=past.by, at=resolved, resolution="manual", ended_at=resolved
        )
        events: list[tuple[datetime, str, str, dict[str, Any]]] = [
            (started, "opened", f"Opened by alert {past.alerts[0][0]}", {}),
            (acked, "acknowledged", f"Acknowledged by {past.by}", {}),
        ]
        step = timedelta(minutes=past.minutes) / (len(past.notes) + len(past.runs) + 2)
        at = acked
        for note in past.notes:
            at += step
            events.append((at, "note", note, {}))
        for runbook, outcome in past.runs:
            at += step
            run = await uow.runs.create(
                runbook=runbook,
                version="library",
                title=runbook,
                risk="medium",
                arguments={},
                incident_id=incident.id,
                requested_by=past.by,
                requested_by_name=past.by,
                platform="console",
                channel="#incidents",
                thread=None,
                status="approved",
                approvals_needed=0,
                dry_run=False,
                plan=[],
                now=at,
            )
            touch(run, status=outcome, started_at=at, finished_at=at + timedelta(minutes=2))
            message = await uow.messages.claim(
                kind=RUN_MESSAGE,
                key=str(run.id),
                platform="console",
                channel="#incidents",
                thread_id=None,
                now=now,
            )
            if message is not None:  # old runs are not news either
                await uow.messages.record_rendered(row=message, revision=run.revision, now=now)
            events.append((at, "runbook", f"R-{run.id} {runbook} {outcome}", {"run": run.id}))
        events.append(
            (
                resolved,
                "resolved",
                f"Resolved by {past.by}: {past.fix}",
                {"note": past.fix, "mttr_seconds": past.minutes * 60},
            )
        )
        for when, kind, text, data in events:
            await uow.incidents.add_event(
                incident_id=incident.id, kind=kind, text=text, at=when, actor=past.by, data=data
            )
        kind = incident_kind(past.service, past.alerts[0][0])
        for target in past.fixed:
            await uow.feedback.record(
                vote="fixed",
                platform="console",
                user_id=past.by,
                user_name=past.by,
                incident_id=incident.id,
                incident_kind=kind,
                target=target,
                now=resolved,
            )
        thread = await uow.threads.claim(
            incident_id=incident.id, platform="console", channel="#incidents", now=now
        )
        if thread is not None:  # history is not news: the notifier does not post it
            await uow.threads.record_rendered(row=thread, revision=incident.revision, now=now)
    return ids


def _rank(severity: str) -> int:
    return {"info": 0, "warning": 1, "major": 2, "error": 2, "critical": 3}.get(severity, 1)
