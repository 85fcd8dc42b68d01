"""The grouping engine: which incident an alert belongs to, and whether it should page.

An alert joins an open incident when it matches

1. by identity: a fingerprint the incident holds (whatever the time), or its Alertmanager
   `groupKey` — only when the group's labels identify a service or an instance (a coarse
   route's key, `{}:{}` or `{alertname="…"}`, says nothing), within `window` of that group's
   last alert in the incident, with the `topology_equal` labels among the group's;
2. by labels: the same service (or host, or namespace — `label_dimensions`) as one of the
   incident's alerts, within `window` of that service's last alert there;
3. by topology: its service is within `topology_hops` dependency hops, either way, of a
   service already failing in the incident, with the `topology_equal` labels equal (one
   cluster's outage does not swallow another's), within the same window.

Stronger evidence wins, then fewer hops, then the incident that alerted last. Symptoms often
alert before their cause and open incidents of their own; the alert of the cause then links
them: with `merge_linked`, an alert whose service is a dependency (within `topology_hops`) of
failing services of other open incidents joins the oldest of them and merges the others into
it (`Decision.merged`) — also when that alert reopens a resolved incident (a flapping
cause whose symptoms opened incidents while it was briefly resolved). Resolved
incidents never absorb new alerts, except that a late alert matching a resolved incident by
`reopen_on` evidence within `reopen_grace` of its resolution reopens it (a flapping alert must
not open a second incident). The grace is kept on both clocks, each compared with itself: the
alert's event time against the incident's end in event time, and — when the caller passes
`now` — Lookout's clock against when it resolved the incident, so an incident resolved days
ago is never reopened by an alert that arrives days later with an old `startsAt`. Anything
else opens a new incident.

Pure and deterministic: time is the alert's event time; the caller passes the incidents it
knows (`IncidentState`, kept up to date with `absorb`), the topology, and its own clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from core.alerts import Alert
from core.grouping_rules import DEFAULT_RULES, STRENGTH, Evidence, GroupingRules
from core.incident_index import IncidentIndex
from core.incident_state import IncidentState, label_keys
from core.incidents import display_id
from core.inhibition import Inhibition, find_inhibitor
from core.topology import Topology
from core.wording import duration, plural


class DecisionKind(StrEnum):
    JOIN = "join"
    REOPEN = "reopen"
    NEW = "new"


@dataclass(frozen=True)
class Decision:
    """Where an alert goes, why (timeline text), whether it is inhibited, and which other
    open incidents it showed to be the same one (to be merged into `incident_id`)."""

    kind: DecisionKind
    incident_id: int | None
    reason: str
    evidence: Evidence | None = None
    related_service: str | None = None
    hops: int | None = None
    inhibition: Inhibition | None = None
    merged: tuple[int, ...] = ()

    @property
    def is_new(self) -> bool:
        return self.incident_id is None

    @property
    def suppressed(self) -> bool:
        """Attached to the incident, but must not page or re-notify."""
        return self.inhibition is not None


@dataclass(frozen=True)
class _Candidate:
    evidence: Evidence
    text: str
    hops: int = 0
    related_service: str | None = None


@dataclass(frozen=True)
class _Near:
    """The alert's neighbourhood: services it depends on / that depend on it, with hops."""

    upstream: Mapping[str, int]
    downstream: Mapping[str, int]


def correlate(
    alert: Alert,
    incidents: Iterable[IncidentState] | IncidentIndex,
    *,
    topology: Topology,
    rules: GroupingRules = DEFAULT_RULES,
    now: datetime | None = None,
) -> Decision:
    """Decide where `alert` goes among `incidents` (open and recently resolved ones), a
    plain collection or an `IncidentIndex` (the same decision, weighing only the incidents
    that share something with the alert). `now` is the caller's clock (arrival time); None in
    a replay, where only event time counts."""
    keys = label_keys(alert.labels, rules.label_dimensions, alert.service)
    group_key = (
        alert.group_key
        if rules.group_key and alert.group_key and rules.identifies(alert.group_labels)
        else None
    )
    service = alert.service
    near = _Near({}, {})
    if service is not None and service in topology:
        near = _Near(
            topology.upstream(service, rules.topology_hops),
            topology.downstream(service, rules.topology_hops),
        )
    if isinstance(incidents, IncidentIndex):
        pool = incidents.candidates(
            alert, keys=keys, group_key=group_key, services=[*near.upstream, *near.downstream]
        )
        causes = incidents.with_services(near.downstream)
    else:
        pool = causes = list(incidents)
    best: tuple[tuple[int, bool, int, datetime, int], IncidentState, _Candidate] | None = None
    for incident in pool:
        candidate = _match(alert, incident, keys, group_key, near, rules, topology, now)
        if candidate is None:
            continue
        rank = (
            STRENGTH[candidate.evidence],
            incident.is_open,
            -candidate.hops,
            incident.last_alert_at,
            incident.id,
        )
        if best is None or rank > best[0]:
            best = (rank, incident, candidate)
    if best is None:
        return Decision(kind=DecisionKind.NEW, incident_id=None, reason="no open incident matches")
    _, incident, candidate = best
    texts = {incident.id: candidate.text}
    if not incident.is_open:
        assert incident.resolved_at is not None
        texts[incident.id] += f", {_gap(alert.starts_at - incident.resolved_at)} it resolved"
    # A cause that alerts again (or late) links the incidents its symptoms opened meanwhile.
    linked = _linked(alert, incident, causes, near, rules, topology) if rules.merge_linked else []
    texts |= {other.id: text for other, text in linked}
    involved = [incident] + [other for other, _ in linked]
    survivor = min(involved, key=lambda item: (item.first_alert_at, item.id))
    reopens = not survivor.is_open
    reason = f"{'reopened' if reopens else 'joined'}: {texts[survivor.id]}"
    if linked:
        merged = sorted(item.id for item in involved if item is not survivor)
        reason += "; merged " + ", ".join(f"{display_id(i)} ({texts[i]})" for i in merged)
    inhibitions = [
        found
        for item in involved
        if (found := find_inhibitor(alert, item.services, topology=topology, rules=rules))
    ]
    return Decision(
        kind=DecisionKind.REOPEN if reopens else DecisionKind.JOIN,
        incident_id=survivor.id,
        reason=reason,
        evidence=candidate.evidence,
        related_service=candidate.related_service,
        hops=candidate.hops if candidate.evidence is Evidence.TOPOLOGY else None,
        inhibition=min(inhibitions, key=lambda found: (found.hops, found.source), default=None),
        merged=tuple(sorted(item.id for item in involved if item is not survivor)),
    )


def _match(
    alert: Alert,
    incident: IncidentState,
    keys: list[tuple[str, ...]],
    group_key: str | None,
    near: _Near,
    rules: GroupingRules,
    topology: Topology,
    now: datetime | None,
) -> _Candidate | None:
    # Checks run cheapest first: this is called for every (alert, candidate) of a storm.
    at = alert.starts_at
    window = rules.window
    by_fingerprint = alert.fingerprint in incident.fingerprints
    if incident.resolved_at is None:
        if by_fingerprint:
            return _Candidate(Evidence.FINGERPRINT, "same alert fingerprint")
        if not incident.first_alert_at - window <= at <= incident.last_alert_at + window:
            return None
        reopen = None
    else:
        seen = incident.resolved_seen_at
        if not (
            incident.first_alert_at - window <= at <= incident.resolved_at + rules.reopen_grace
            and (now is None or seen is None or now <= seen + rules.reopen_grace)
        ):
            return None
        reopen = rules.reopen_on
        if by_fingerprint and Evidence.FINGERPRINT in reopen:
            return _Candidate(Evidence.FINGERPRINT, "same alert fingerprint")
    if (
        group_key is not None
        and (reopen is None or Evidence.GROUP_KEY in reopen)
        and incident.group_match(group_key, alert, window, rules.topology_equal)
    ):
        return _Candidate(Evidence.GROUP_KEY, "same Alertmanager group")
    if reopen is None or Evidence.LABELS in reopen:
        for key in keys:
            last = incident.label_keys.get(key)
            if last is not None and at <= last + window:
                said = ", ".join(p.replace("=", " ") for p in key if not p.endswith("="))
                return _Candidate(Evidence.LABELS, f"same {said}, {_gap(at - last)} its last alert")
    if (near.upstream or near.downstream) and (reopen is None or Evidence.TOPOLOGY in reopen):
        return _nearest(alert, incident, near, rules, topology, causes_only=False)
    return None


def _linked(
    alert: Alert,
    joined: IncidentState,
    incidents: list[IncidentState],
    near: _Near,
    rules: GroupingRules,
    topology: Topology,
) -> list[tuple[IncidentState, str]]:
    """Other open incidents, in the window, with failing services that depend on the
    alert's service: their symptoms alerted before this, their probable cause."""
    if not near.downstream:
        return []  # nothing depends on the alert's service (or the catalog does not know it)
    linked = []
    for other in incidents:
        if other is joined or not other.is_open:
            continue
        window = rules.window
        if not other.first_alert_at - window <= alert.starts_at <= other.last_alert_at + window:
            continue
        found = _nearest(alert, other, near, rules, topology, causes_only=True)
        if found is not None:
            linked.append((other, found.text))
    return linked


def _nearest(
    alert: Alert,
    incident: IncidentState,
    near: _Near,
    rules: GroupingRules,
    topology: Topology,
    *,
    causes_only: bool,
) -> _Candidate | None:
    """The incident's failing service nearest to the alert's in the dependency graph, either
    a service the alert's depends on (the alert is a symptom of it) or an unexplained service
    that depends on the alert's (the alert is its late-alerting cause); `causes_only` keeps
    only the latter."""
    best: tuple[tuple[int, int, datetime, str], _Candidate] | None = None
    # Only services related to the alert's can match: look at those, not at every service of
    # a big incident (the rank below is a total order, so the visiting order does not matter).
    services = incident.services
    related = near.downstream.keys() if causes_only else near.upstream.keys() | near.downstream
    window = rules.window
    for name in [name for name in related if name in services]:
        state = services[name]
        if name == alert.service or not all(
            alert.labels.get(label, "") in state.scope.get(label, {""})
            for label in rules.topology_equal
        ):
            continue
        # Failures travel in minutes: a symptom may follow its cause for as long as the cause
        # keeps alerting, but a cause alerts at most `window` after its first symptom.
        as_symptom = not causes_only and (
            state.first_alert_at - window <= alert.starts_at <= state.last_alert_at + window
        )
        as_cause = abs(alert.starts_at - state.first_alert_at) <= window
        relations: list[tuple[int, bool]] = []
        if as_symptom and name in near.upstream:
            relations.append((near.upstream[name], True))
        if (
            as_cause
            and name in near.downstream
            and _unexplained(name, near.downstream[name], incident, topology)
        ):
            relations.append((near.downstream[name], False))
        if not relations:
            continue
        gap = _gap(alert.starts_at - state.first_alert_at)
        for hops, depends_on_it in relations:
            text = (
                f"depends on {name}, {plural(hops, 'hop')}, {gap}"
                if depends_on_it
                else f"{name} depends on it, {plural(hops, 'hop')}, {gap}"
            )
            rank = (hops, 0 if depends_on_it else 1, state.first_alert_at, name)
            if best is None or rank < best[0]:
                best = (rank, _Candidate(Evidence.TOPOLOGY, text, hops, name))
    return None if best is None else best[1]


def _unexplained(name: str, hops: int, incident: IncidentState, topology: Topology) -> bool:
    """True when nothing else alerting in the incident is upstream of `name` within `hops`
    dependency hops: a late alert upstream of a symptom that a nearer (or as near) failing
    dependency already explains is more often a second, unrelated failure than its cause."""
    upstream = topology.upstream(name, hops)
    return not any(other in upstream for other in incident.services if other != name)


def _gap(delta: timedelta) -> str:
    return f"{duration(delta)} after" if delta >= timedelta(0) else f"{duration(-delta)} before"
