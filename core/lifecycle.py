"""An alert's lifecycle across deliveries: what a notification means for the alert Lookout has.

An alert is its fingerprint, as in Alertmanager, and it fires in occurrences: it fires, it
resolves, it may fire again. Senders do not keep `startsAt` stable across those steps, so it
cannot be part of the identity:

* Grafana 12 resolve notifications can carry a rewritten `startsAt`;
* Alertmanager resolves an alert when its `endsAt` passes and re-creates it with the same
  `startsAt` when the next evaluation is a second late;
* Alertmanager HA peers send the same alert firing after one of them sent it resolved;
* a short flap can start and end between two notifications, so it arrives already resolved.

So: a resolve ends the fingerprint's firing occurrence whatever its `startsAt` (unless it
ended before that occurrence began: a stale resolve of an earlier one); a firing alert whose
fingerprint has no firing occurrence starts a new one, from when it came back in event time,
so it is never hidden inside a resolved incident (grouping then reopens that incident within
the grace, or opens a new one); a resolved alert never seen firing is kept apart.

Pure: the caller passes the fingerprint's latest occurrence, if any, and the notification.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from core.alerts import Alert


class Step(StrEnum):
    UNCHANGED = "unchanged"  # a re-delivery: nothing new
    UPDATE = "update"  # the same occurrence, new annotations
    RESOLVE = "resolve"  # the firing occurrence ended
    FIRE = "fire"  # a new firing occurrence (the first, or after a resolve)
    UNSEEN = "unseen"  # a new occurrence that arrived already resolved
    STALE = "stale"  # a resolve of an occurrence that ended before the current one began


@dataclass(frozen=True)
class Occurrence:
    """What Lookout holds of a fingerprint's latest occurrence. `in_open_incident` is False
    when its incident is resolved (or it has none)."""

    number: int
    firing: bool
    starts_at: datetime
    ends_at: datetime | None
    annotations: dict[str, str]
    in_open_incident: bool = True


@dataclass(frozen=True)
class Transition:
    """What to do: `step`, the occurrence number it concerns, and for FIRE and UNSEEN the
    alert as it should be stored and grouped (its `starts_at` is when this occurrence began
    in event time); for RESOLVE the end time."""

    step: Step
    occurrence: int
    alert: Alert | None = None
    ends_at: datetime | None = None


def transition(latest: Occurrence | None, alert: Alert) -> Transition:
    """The step `alert` (a notification) takes from the fingerprint's `latest` occurrence."""
    if latest is None:
        step = Step.FIRE if alert.firing else Step.UNSEEN
        return Transition(step, 1, alert)
    following = latest.number + 1
    if latest.firing and latest.in_open_incident:
        if alert.firing:
            if alert.annotations != latest.annotations:
                return Transition(Step.UPDATE, latest.number)
            return Transition(Step.UNCHANGED, latest.number)
        if alert.ends_at is not None and alert.ends_at < latest.starts_at:
            return Transition(Step.STALE, latest.number)
        ends_at = alert.ends_at or max(alert.starts_at, latest.starts_at)
        return Transition(Step.RESOLVE, latest.number, ends_at=max(ends_at, latest.starts_at))
    # The latest occurrence is over (resolved, or firing inside an incident someone resolved).
    over_at = latest.ends_at or latest.starts_at
    if alert.firing:
        return Transition(Step.FIRE, following, _starting(alert, max(alert.starts_at, over_at)))
    same_period = alert.starts_at == latest.starts_at or alert.starts_at <= over_at
    if same_period:
        if alert.annotations != latest.annotations and not latest.firing:
            return Transition(Step.UPDATE, latest.number)
        return Transition(Step.UNCHANGED, latest.number)
    return Transition(Step.UNSEEN, following, alert)


def _starting(alert: Alert, at: datetime) -> Alert:
    if at == alert.starts_at:
        return alert
    return Alert(
        fingerprint=alert.fingerprint,
        status=alert.status,
        starts_at=at,
        ends_at=alert.ends_at if alert.ends_at is None or alert.ends_at >= at else None,
        labels=alert.labels,
        annotations=alert.annotations,
        group_key=alert.group_key,
        generator_url=alert.generator_url,
        receiver=alert.receiver,
        service=alert.service,
        group_labels=alert.group_labels,
    )
