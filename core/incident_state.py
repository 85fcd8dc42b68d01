"""What the grouping engine remembers about an incident, kept up to date alert by alert.

The caller (ingest) builds an `IncidentState` per open or recently resolved incident — from
the database, or with `start` and `absorb` as a batch goes — and passes them to
`correlation.correlate`. Everything here is a summary of the incident's alerts; nothing is
looked up later, so deciding for an alert never needs the incident's alert list.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from core.alerts import Alert
from core.grouping_rules import DEFAULT_RULES, GroupingRules
from core.severity import Severity


@dataclass
class ServiceState:
    """One service failing in an incident. `scope` holds the values of the rules' scope
    labels over its alerts ("" for a missing label); `severe_scope` the same over its alerts
    at or above the inhibition source severity (empty: none)."""

    first_alert_at: datetime
    last_alert_at: datetime
    worst: Severity
    alerts: int = 0
    scope: dict[str, set[str]] = field(default_factory=dict)
    severe_scope: dict[str, set[str]] = field(default_factory=dict)

    def merge(self, other: ServiceState) -> None:
        self.first_alert_at = min(self.first_alert_at, other.first_alert_at)
        self.last_alert_at = max(self.last_alert_at, other.last_alert_at)
        self.worst = max(self.worst, other.worst)
        self.alerts += other.alerts
        for mine, theirs in ((self.scope, other.scope), (self.severe_scope, other.severe_scope)):
            for label, values in theirs.items():
                mine.setdefault(label, set()).update(values)


@dataclass
class GroupState:
    """An Alertmanager group's alerts in an incident: when one last started, and the values of
    the rules' scope labels over them (a group without a cluster label may span clusters)."""

    last_alert_at: datetime
    scope: dict[str, set[str]] = field(default_factory=dict)


@dataclass
class IncidentState:
    """What the engine needs to know about an incident; `resolved_at` None means open.

    Two clocks, never mixed: `resolved_at` is when the incident ended in event time (its last
    alert's `endsAt`, or when a person resolved it), `resolved_seen_at` when Lookout resolved
    it by its own clock (None when unknown, as in a replay). `label_keys` maps each
    label-dimension key of its alerts, and `groups` each Alertmanager group that identifies a
    service or instance, to the last time it alerted."""

    id: int
    first_alert_at: datetime
    last_alert_at: datetime
    resolved_at: datetime | None = None
    resolved_seen_at: datetime | None = None
    fingerprints: set[str] = field(default_factory=set)
    groups: dict[str, GroupState] = field(default_factory=dict)
    label_keys: dict[tuple[str, ...], datetime] = field(default_factory=dict)
    services: dict[str, ServiceState] = field(default_factory=dict)

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None

    @classmethod
    def start(
        cls, incident_id: int, alert: Alert, rules: GroupingRules = DEFAULT_RULES
    ) -> IncidentState:
        state = cls(id=incident_id, first_alert_at=alert.starts_at, last_alert_at=alert.starts_at)
        state.absorb(alert, rules)
        return state

    def absorb(self, alert: Alert, rules: GroupingRules = DEFAULT_RULES) -> None:
        """Account for an alert that joined (so later alerts of a batch see it). A firing
        alert reopens a resolved incident; pass the same rules as to `correlate`."""
        at = alert.starts_at
        self.first_alert_at = min(self.first_alert_at, at)
        self.last_alert_at = max(self.last_alert_at, at)
        if alert.firing:
            self.resolved_at = None
            self.resolved_seen_at = None
        self.fingerprints.add(alert.fingerprint)
        if alert.group_key and rules.identifies(alert.group_labels):
            group = self.groups.get(alert.group_key)
            if group is None:
                group = self.groups[alert.group_key] = GroupState(at)
            group.last_alert_at = max(group.last_alert_at, at)
            _remember(group.scope, alert.labels, rules.topology_equal)
        for key in label_keys(alert.labels, rules.label_dimensions, alert.service):
            self.label_keys[key] = max(self.label_keys.get(key, at), at)
        service = alert.service
        if service is None:
            return
        state = self.services.get(service)
        if state is None:
            state = self.services[service] = ServiceState(at, at, alert.severity)
        state.first_alert_at = min(state.first_alert_at, at)
        state.last_alert_at = max(state.last_alert_at, at)
        state.worst = max(state.worst, alert.severity)
        state.alerts += 1
        _remember(state.scope, alert.labels, rules.scope_labels)
        if alert.severity >= rules.inhibit.source_min_severity:
            _remember(state.severe_scope, alert.labels, rules.inhibit.equal)

    def merge(self, other: IncidentState) -> None:
        """Take in everything `other` knew (when the engine merges it into this one)."""
        self.first_alert_at = min(self.first_alert_at, other.first_alert_at)
        self.last_alert_at = max(self.last_alert_at, other.last_alert_at)
        if other.is_open:
            self.resolved_at = None
            self.resolved_seen_at = None
        self.fingerprints |= other.fingerprints
        for group_key, theirs in other.groups.items():
            mine = self.groups.get(group_key)
            if mine is None:
                mine = self.groups[group_key] = GroupState(theirs.last_alert_at)
            mine.last_alert_at = max(mine.last_alert_at, theirs.last_alert_at)
            for label, values in theirs.scope.items():
                mine.scope.setdefault(label, set()).update(values)
        for key, at in other.label_keys.items():
            self.label_keys[key] = max(self.label_keys.get(key, at), at)
        for name, state in other.services.items():
            mine_service = self.services.get(name)
            if mine_service is None:
                self.services[name] = ServiceState(
                    state.first_alert_at,
                    state.last_alert_at,
                    state.worst,
                    state.alerts,
                    {label: set(values) for label, values in state.scope.items()},
                    {label: set(values) for label, values in state.severe_scope.items()},
                )
            else:
                mine_service.merge(state)

    def resolve(self, *, at: datetime, seen_at: datetime | None = None) -> None:
        """Every alert ended (at `at`, event time); Lookout saw it at `seen_at`."""
        self.resolved_at = at
        self.resolved_seen_at = seen_at

    def group_match(
        self, group_key: str, alert: Alert, window: timedelta, scope_labels: Iterable[str]
    ) -> bool:
        """Whether `alert` shares a group of the incident that alerted within `window` of it,
        with the scope labels (cluster…) among the values the group's alerts had."""
        group = self.groups.get(group_key)
        if group is None or alert.starts_at > group.last_alert_at + window:
            return False
        return all(
            alert.labels.get(label, "") in group.scope.get(label, {alert.labels.get(label, "")})
            for label in scope_labels
        )

    def first_alerts(self) -> dict[str, datetime]:
        """Each failing service's first alert time (the input of root cause and propagation)."""
        return {name: state.first_alert_at for name, state in self.services.items()}


def label_keys(
    labels: Mapping[str, str], dimensions: Iterable[tuple[str, ...]], service: str | None
) -> list[tuple[str, ...]]:
    """The keys an alert is known by per label dimension, e.g. `("service=api",
    "cluster=eu")`. A dimension applies when its first label (`service` meaning the alert's
    `service`, as the configured service labels name it) is set; the others qualify it, a
    missing one counting as empty."""
    keys = []
    for first, *qualifiers in dimensions:
        value = service if first == "service" else labels.get(first)
        if value:
            keys.append((f"{first}={value}", *(f"{q}={labels.get(q, '')}" for q in qualifiers)))
    return keys


def _remember(scope: dict[str, set[str]], labels: Mapping[str, str], names: Iterable[str]) -> None:
    for name in names:
        scope.setdefault(name, set()).add(labels.get(name, ""))
