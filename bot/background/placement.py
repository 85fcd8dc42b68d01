"""Where a batch's new alerts went, collected while correlating and written in bulk after.

Correlating decides alert by alert in event order; writing row by row would cost a round trip
per alert, so the decisions are kept here — opened, joined, suppressed, reopened, merged — and
written in a few statements: merges first (they move alerts and events between incidents),
then every new alert, its membership link and its timeline event.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from core.alerts import Alert
from core.correlation import Decision, DecisionKind
from core.incidents import display_id
from storage.alerts import NewAlert
from storage.incidents import AlertLink, NewEvent
from storage.uow import UnitOfWork


@dataclass(frozen=True)
class _Placed:
    alert: Alert
    occurrence: int
    incident_id: int
    kind: str
    text: str
    reason: str
    suppressed_by: str | None = None
    seen_firing: bool = True


@dataclass(frozen=True)
class _Merge:
    source: int
    target: int
    reason: str
    at: datetime


class Placement:
    def __init__(self) -> None:
        self._placed: list[_Placed] = []
        self._orphans: list[tuple[Alert, int]] = []
        self._merges: list[_Merge] = []
        self.merges: dict[int, int] = {}
        # Reopened incidents, and the event time of the first alert that reopened each.
        self.reopened: dict[int, datetime] = {}

    @property
    def count(self) -> int:
        return len(self._placed) + len(self._orphans)

    def final(self, incident_id: int) -> int:
        """The incident an id ended up as, after this batch's merges."""
        while incident_id in self.merges:
            incident_id = self.merges[incident_id]
        return incident_id

    def orphan(self, alert: Alert, occurrence: int) -> None:
        """Kept without an incident: it arrived resolved and nothing claims it."""
        self._orphans.append((alert, occurrence))

    def opened(self, alert: Alert, occurrence: int, incident_id: int) -> None:
        text = f"Opened by alert {alert.name}: {alert.summary}"
        self._placed.append(_Placed(alert, occurrence, incident_id, "opened", text, "first alert"))

    def joined(self, alert: Alert, occurrence: int, decision: Decision, *, reopens: bool) -> None:
        assert decision.incident_id is not None
        kind, text = "alert_joined", f"Alert {alert.name} {decision.reason}"
        source = None
        if reopens:
            kind = "reopened"
            self.reopened.setdefault(decision.incident_id, alert.starts_at)
        elif not alert.firing:
            kind = "alert_resolved"
            text = (
                f"Alert {alert.name} fired and resolved between notifications ({decision.reason})"
            )
        elif decision.inhibition is not None and decision.kind is DecisionKind.JOIN:
            kind, source = "alert_suppressed", decision.inhibition.source
            text += f" — {decision.inhibition.reason}"
        self._placed.append(
            _Placed(
                alert,
                occurrence,
                decision.incident_id,
                kind,
                text,
                decision.reason,
                source,
                seen_firing=alert.firing,
            )
        )

    def merged(self, source: int, target: int, reason: str, at: datetime) -> None:
        self.merges[source] = target
        self._merges.append(_Merge(source, target, reason, at))

    def renumber(self, ids: dict[int, int]) -> None:
        """Provisional incident ids (of incidents created at the end of the batch) become
        the real ones."""

        def real(incident_id: int) -> int:
            return ids.get(incident_id, incident_id)

        self._placed = [replace(p, incident_id=real(p.incident_id)) for p in self._placed]
        self._merges = [
            replace(m, source=real(m.source), target=real(m.target)) for m in self._merges
        ]
        self.merges = {real(source): real(target) for source, target in self.merges.items()}
        self.reopened = {real(i): at for i, at in self.reopened.items()}

    def placed(self) -> list[tuple[str, int]]:
        """(fingerprint, the incident it ended up in) for every alert placed in one."""
        return [(item.alert.fingerprint, self.final(item.incident_id)) for item in self._placed]

    def touched(self) -> set[int]:
        """Every incident this batch changed, merged ones included."""
        found = {self.final(placed.incident_id) for placed in self._placed}
        found |= {merge.source for merge in self._merges}
        found |= {merge.target for merge in self._merges}
        return found

    async def write(self, uow: UnitOfWork, now: datetime) -> None:
        for merge in self._merges:
            target = self.final(merge.target)
            await uow.incidents.merge(
                source=merge.source,
                target=target,
                at=merge.at,
                now=now,
                text=f"{display_id(merge.source)} merged into {display_id(target)}: {merge.reason}",
            )
        placed = self._placed
        ids = await uow.alerts.add_many(
            alerts=[
                NewAlert(
                    item.alert,
                    item.occurrence,
                    self.final(item.incident_id),
                    seen_firing=item.seen_firing,
                    suppressed_by=item.suppressed_by,
                )
                for item in placed
            ]
            + [
                NewAlert(alert, occurrence, None, seen_firing=False)
                for alert, occurrence in self._orphans
            ],
            now=now,
        )
        await uow.incidents.link_alerts(
            links=[
                AlertLink(
                    incident_id=self.final(item.incident_id), alert_id=alert_id, reason=item.reason
                )
                for alert_id, item in zip(ids, placed, strict=False)
            ],
            now=now,
        )
        await uow.incidents.add_events(
            events=[
                NewEvent(
                    incident_id=self.final(item.incident_id),
                    kind=item.kind,
                    text=item.text,
                    at=item.alert.starts_at,
                    data={"fingerprint": item.alert.fingerprint, "service": item.alert.service}
                    | ({"suppressed_by": item.suppressed_by} if item.suppressed_by else {}),
                )
                for item in placed
            ]
        )
