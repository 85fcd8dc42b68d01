"""What the grouping engine remembers about an incident, kept up to date alert by alert.

The caller (ingest) builds an `IncidentState` per open or recently resolved incident — from
the database, or with `start` and `absorb` as a batch goes — and passes them to
`correlation.correlate`. Everything here is a summary of the incident's alerts; nothing is
looked up later, so deciding for an alert never needs the incident's alert list.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from core.alerts import Alert, service_of
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
class IncidentState:
    """What the engine needs to know about an incident; `resolved_at` None means open.
    `label_keys` maps each label-dimension key of its alerts, and `group_keys` each
    Alertmanager group of its alerts, to the last time it alerted; `firing_groups` counts each
    group's alerts still firing (`ended` takes one away)."""

    id: int
    first_alert_at: datetime
    last_alert_at: datetime
    resolved_at: datetime | None = None
    fingerprints: set[str] = field(default_factory=set)
    group_keys: dict[str, datetime] = field(default_factory=dict)
    firing_groups: Counter[str] = field(default_factory=Counter)
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
        self.fingerprints.add(alert.fingerprint)
        if alert.group_key:
            self.group_keys[alert.group_key] = max(self.group_keys.get(alert.group_key, at), at)
            self.firing_groups[alert.group_key] += alert.firing
        for key in label_keys(alert.labels, rules.label_dimensions):
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
        self.fingerprints |= other.fingerprints
        for group, at in other.group_keys.items():
            self.group_keys[group] = max(self.group_keys.get(group, at), at)
        self.firing_groups.update(other.firing_groups)
        for key, at in other.label_keys.items():
            self.label_keys[key] = max(self.label_keys.get(key, at), at)
        for name, state in other.services.items():
            mine = self.services.get(name)
            if mine is None:
                self.services[name] = ServiceState(
                    state.first_alert_at,
                    state.last_alert_at,
                    state.worst,
                    state.alerts,
                    {label: set(values) for label, values in state.scope.items()},
                    {label: set(values) for label, values in state.severe_scope.items()},
                )
            else:
                mine.merge(state)

    def ended(self, alert: Alert) -> None:
        """One of its firing alerts resolved (its Alertmanager group may be over)."""
        if alert.group_key and self.firing_groups[alert.group_key] > 0:
            self.firing_groups[alert.group_key] -= 1

    def group_alive(self, group_key: str, at: datetime, window: timedelta) -> bool:
        """Whether Alertmanager's group is still one at `at`: it has an alert firing in the
        incident, or alerted within `window` (a resolve and a quick re-fire)."""
        last = self.group_keys.get(group_key)
        if last is None:
            return False
        return self.firing_groups[group_key] > 0 or at <= last + window

    def first_alerts(self) -> dict[str, datetime]:
        """Each failing service's first alert time (the input of root cause and propagation)."""
        return {name: state.first_alert_at for name, state in self.services.items()}


def label_keys(
    labels: Mapping[str, str], dimensions: Iterable[tuple[str, ...]]
) -> list[tuple[str, ...]]:
    """The keys an alert is known by per label dimension, e.g. `("service=api",
    "cluster=eu")`. A dimension applies when its first label (`service` meaning the alert's
    service: `service`, else `job`, else `namespace`) is set; the others qualify it, a missing
    one counting as empty."""
    keys = []
    for first, *qualifiers in dimensions:
        value = service_of(dict(labels)) if first == "service" else labels.get(first)
        if value:
            keys.append((f"{first}={value}", *(f"{q}={labels.get(q, '')}" for q in qualifiers)))
    return keys


def _remember(scope: dict[str, set[str]], labels: Mapping[str, str], names: Iterable[str]) -> None:
    for name in names:
        scope.setdefault(name, set()).add(labels.get(name, ""))
