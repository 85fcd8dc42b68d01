"""The incidents a batch of alerts is weighed against, indexed by what can tie an alert to one.

An alert can only join an incident that holds its fingerprint, its (identifying) Alertmanager
group, one of its label-dimension keys, or a service related to its own in the topology
(`core.correlation`). Weighing every open incident for every alert costs alerts × incidents;
asking this index for the incidents sharing one of those keys costs what actually matches, so
a batch's cost does not grow with the number of open incidents. The decisions are the same
as over the full list: no incident outside the index's answer could have matched.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

from core.alerts import Alert
from core.grouping_rules import DEFAULT_RULES, GroupingRules
from core.incident_state import IncidentState, label_keys


class IncidentIndex:
    """`IncidentState`s by id, with reverse indexes kept current by `add`, `absorb` and
    `merge` (use these rather than the states' own methods)."""

    def __init__(
        self, states: Iterable[IncidentState] = (), rules: GroupingRules = DEFAULT_RULES
    ) -> None:
        self._rules = rules
        self._states: dict[int, IncidentState] = {}
        self._by_fingerprint: dict[str, set[int]] = {}
        self._by_group: dict[str, set[int]] = {}
        self._by_key: dict[tuple[str, ...], set[int]] = {}
        self._by_service: dict[str, set[int]] = {}
        for state in states:
            self.add(state)

    def __len__(self) -> int:
        return len(self._states)

    def __iter__(self) -> Iterator[IncidentState]:
        return iter(self._states.values())

    def __getitem__(self, incident_id: int) -> IncidentState:
        return self._states[incident_id]

    def add(self, state: IncidentState) -> None:
        """Index an incident (new, or loaded) with everything it holds."""
        self._states[state.id] = state
        self._index(state.id, state.fingerprints, state.groups, state.label_keys, state.services)

    def absorb(self, incident_id: int, alert: Alert) -> None:
        """The alert joined the incident: the state accounts for it and the index knows it."""
        state = self._states[incident_id]
        state.absorb(alert, self._rules)
        groups = [alert.group_key] if alert.group_key and alert.group_key in state.groups else []
        keys = label_keys(alert.labels, self._rules.label_dimensions, alert.service)
        services = [alert.service] if alert.service else []
        self._index(incident_id, [alert.fingerprint], groups, keys, services)

    def merge(self, target: int, source: int) -> None:
        """`source` becomes part of `target` (the engine found them one incident)."""
        gone = self._states.pop(source)
        self._states[target].merge(gone)
        for index in (self._by_fingerprint, self._by_group, self._by_key, self._by_service):
            for ids in index.values():
                if source in ids:
                    ids.discard(source)
                    ids.add(target)

    def candidates(
        self,
        alert: Alert,
        *,
        keys: Iterable[tuple[str, ...]],
        group_key: str | None,
        services: Iterable[str],
    ) -> list[IncidentState]:
        """The incidents sharing the alert's fingerprint, its group, one of its label keys,
        or one of `services` (those related to its own), in id order."""
        found: set[int] = set(self._by_fingerprint.get(alert.fingerprint, ()))
        if group_key is not None:
            found |= self._by_group.get(group_key, set())
        for key in keys:
            found |= self._by_key.get(key, set())
        for service in services:
            found |= self._by_service.get(service, set())
        return [self._states[i] for i in sorted(found)]

    def with_services(self, services: Iterable[str]) -> list[IncidentState]:
        """The incidents in which one of `services` is failing, in id order."""
        found: set[int] = set()
        for service in services:
            found |= self._by_service.get(service, set())
        return [self._states[i] for i in sorted(found)]

    def _index(
        self,
        incident_id: int,
        fingerprints: Iterable[str],
        groups: Iterable[str],
        keys: Iterable[tuple[str, ...]],
        services: Iterable[str] | Mapping[str, object],
    ) -> None:
        for fingerprint in fingerprints:
            self._by_fingerprint.setdefault(fingerprint, set()).add(incident_id)
        for group in groups:
            self._by_group.setdefault(group, set()).add(incident_id)
        for key in keys:
            self._by_key.setdefault(key, set()).add(incident_id)
        for service in services:
            self._by_service.setdefault(service, set()).add(incident_id)
