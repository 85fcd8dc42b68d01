"""The incidents the grouping engine weighs a batch against, read as SQL aggregates.

`core.incident_state.IncidentState` summarizes an incident's alerts; this builds it from the
database without loading the alerts themselves. Candidates are open incidents and resolved
ones a late alert may still reopen; *active* candidates are those whose alerts come within
the grouping window of the batch (and the resolved ones), the only ones labels or topology
can match. Three small queries:

1. per (incident, service, severity) of active candidates: first and last alert and count,
   from a covering index — exact `ServiceState`s however many alerts they hold;
2. the labels the rules compare (`cluster`, `host`…), read from the JSON labels only of
   alerts that can still matter: those within the window before the batch's earliest alert
   (label matches and topology scope look no further back) and, for every candidate, the
   severe alerts of services upstream of a batch alert that could be inhibited (inhibition
   has no time limit: an alert joining a quiet incident by its group key may still be a
   symptom of its database). Reading every alert's JSON would cost a table read and a parse
   per alert of every open incident, on every batch;
3. the batch's own fingerprints, and its group keys that identify a service or instance with
   each group's last alert and scope labels (identity matches need nothing else).

Resolved candidates are those Lookout resolved within the reopen grace by its own clock;
their end in event time (`resolved_event_at`) is what the engine compares alerts with.

The states differ from absorbing every alert in ways that cannot change a decision but one:
a service's scope labels (`topology_equal`) come from its recent and severe alerts only, not
from warnings older than the window.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.grouping_rules import GroupingRules
from core.incident_state import GroupState, IncidentState, ServiceState, label_keys
from core.incidents import IncidentStatus
from core.severity import Severity, parse_severity
from storage.models import AlertRow, IncidentRow

_CHUNK = 400
RESOLVED = IncidentStatus.RESOLVED.value


def compared_labels(rules: GroupingRules) -> list[str]:
    """Labels the rules read besides the service (stored in its own column)."""
    names = [name for dimension in rules.label_dimensions for name in dimension]
    names += rules.scope_labels
    return [name for name in dict.fromkeys(names) if name != "service"]


class GroupingStateRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def states(
        self,
        *,
        rules: GroupingRules,
        fingerprints: Iterable[str],
        group_keys: Iterable[str],
        earliest: datetime,
        latest: datetime,
        inhibitors: Collection[str],
        now: datetime,
        with_services: bool = True,
        project: str | None = None,
    ) -> list[IncidentState]:
        """Candidates for a batch of alerts starting from `earliest` to `latest`: open
        incidents, and incidents Lookout resolved within the reopen grace before `now` that
        were not merged. `group_keys` are the batch's keys that identify a service or an
        instance (stored form, see `core.text.GROUP_KEY_LIMIT`).
        `inhibitors` are the services whose severe alerts could inhibit one of the batch
        (`core.inhibition.possible_inhibitors`); other services' severe scope is left out.
        Without `with_services` (no alert of the batch is in the topology, so neither
        topology nor inhibition can use them) per-service states are not read at all.
        `project`: only that project's incidents (alerts never join another project's)."""
        query = select(
            IncidentRow.id,
            IncidentRow.first_alert_at,
            IncidentRow.last_alert_at,
            IncidentRow.status,
            IncidentRow.resolved_at,
            IncidentRow.resolved_event_at,
        ).where(
            (IncidentRow.status != RESOLVED)
            | (
                (IncidentRow.resolved_at >= now - rules.reopen_grace)
                & IncidentRow.merged_into.is_(None)
            )
        )
        if project is not None:
            query = query.where(IncidentRow.project == project)
        states: dict[int, IncidentState] = {}
        rows = await self._session.execute(query)
        for incident_id, first, last, status, resolved_at, ended_at in rows:
            resolved = status == RESOLVED
            states[incident_id] = IncidentState(
                id=incident_id,
                first_alert_at=first,
                last_alert_at=last,
                resolved_at=(ended_at or resolved_at or last) if resolved else None,
                resolved_seen_at=(resolved_at or now) if resolved else None,
            )
        if not states:
            return []
        window = rules.window
        active = [
            state.id
            for state in states.values()
            if not state.is_open
            or (
                state.first_alert_at - window <= latest and earliest <= state.last_alert_at + window
            )
        ]
        if with_services:
            await self._add_services(states, active)
        await self._add_labels(
            states, rules, since=earliest - window, inhibitors=inhibitors if with_services else ()
        )
        await self._add_identities(states, fingerprints, group_keys, rules)
        return list(states.values())

    async def _add_services(self, states: dict[int, IncidentState], ids: list[int]) -> None:
        keys = (AlertRow.incident_id, AlertRow.service, AlertRow.severity)
        for chunk in _chunks(ids):
            query = (
                select(
                    *keys, func.min(AlertRow.starts_at), func.max(AlertRow.starts_at), func.count()
                )
                .where(AlertRow.incident_id.in_(chunk), AlertRow.service.is_not(None))
                .group_by(*keys)
            )
            for incident_id, service, label, first, last, count in await self._session.execute(
                query
            ):
                if incident_id is not None and service is not None:
                    _service(states[incident_id], service, label, first, last, count)

    async def _add_labels(
        self,
        states: dict[int, IncidentState],
        rules: GroupingRules,
        *,
        since: datetime,
        inhibitors: Collection[str],
    ) -> None:
        names = compared_labels(rules)
        severe = [s.label for s in Severity if s >= rules.inhibit.source_min_severity]
        values: list[ColumnElement[Any]] = [AlertRow.labels[name].as_string() for name in names]
        keys = (AlertRow.incident_id, AlertRow.service, AlertRow.severity, *values)
        wanted: ColumnElement[bool] = AlertRow.starts_at >= since
        if inhibitors:
            wanted = wanted | (
                AlertRow.severity.in_(severe) & AlertRow.service.in_(sorted(inhibitors))
            )
        for chunk in _chunks(list(states)):
            query = (
                select(
                    *keys, func.min(AlertRow.starts_at), func.max(AlertRow.starts_at), func.count()
                )
                .where(AlertRow.incident_id.in_(chunk), wanted)
                .group_by(*keys)
            )
            for row in await self._session.execute(query):
                incident_id, service, severity, *found, first, last, count = row
                labels = {n: v for n, v in zip(names, found, strict=True) if v is not None}
                if service is not None:
                    labels["service"] = service
                state = states[incident_id]
                if inhibitors and service is not None and service not in state.services:
                    # A quiet incident: only its severe services, for inhibition.
                    _service(state, service, severity, first, last, count)
                _account(state, rules, labels, service, severity, last)

    async def _add_identities(
        self,
        states: dict[int, IncidentState],
        fingerprints: Iterable[str],
        group_keys: Iterable[str],
        rules: GroupingRules,
    ) -> None:
        for chunk in _chunks(sorted(set(fingerprints))):
            query = (
                select(AlertRow.incident_id, AlertRow.fingerprint)
                .where(AlertRow.fingerprint.in_(chunk))
                .distinct()
            )
            for incident_id, value in await self._session.execute(query):
                if incident_id in states and value:
                    states[incident_id].fingerprints.add(value)
        scope = list(rules.topology_equal)
        values: list[ColumnElement[Any]] = [AlertRow.labels[name].as_string() for name in scope]
        for chunk in _chunks(sorted(set(group_keys))):
            keys = (AlertRow.incident_id, AlertRow.group_key, *values)
            by_group = (
                select(*keys, func.max(AlertRow.starts_at))
                .where(AlertRow.group_key.in_(chunk), AlertRow.seen_firing.is_(True))
                .group_by(*keys)
            )
            for incident_id, key, *found, last in await self._session.execute(by_group):
                state = states.get(incident_id)
                if state is None or not key:
                    continue
                group = state.groups.get(key)
                if group is None:
                    group = state.groups[key] = GroupState(last)
                group.last_alert_at = max(group.last_alert_at, last)
                for name, value in zip(scope, found, strict=True):
                    group.scope.setdefault(name, set()).add(value or "")


def _chunks(items: list[Any]) -> Iterator[list[Any]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


def _service(
    state: IncidentState,
    service: str,
    severity_label: str,
    first: datetime,
    last: datetime,
    count: int,
) -> None:
    severity = parse_severity(severity_label)
    found = state.services.get(service)
    if found is None:
        found = state.services[service] = ServiceState(first, last, severity)
    found.first_alert_at = min(found.first_alert_at, first)
    found.last_alert_at = max(found.last_alert_at, last)
    found.worst = max(found.worst, severity)
    found.alerts += int(count)


def _account(
    state: IncidentState,
    rules: GroupingRules,
    labels: dict[str, str],
    service: str | None,
    severity_label: str,
    last: datetime,
) -> None:
    """Fold one row of label values into the state, as `IncidentState.absorb` does."""
    for key in label_keys(labels, rules.label_dimensions, service):
        state.label_keys[key] = max(state.label_keys.get(key, last), last)
    found = state.services.get(service) if service is not None else None
    if found is None:
        return
    for name in rules.scope_labels:
        found.scope.setdefault(name, set()).add(labels.get(name, ""))
    if parse_severity(severity_label) >= rules.inhibit.source_min_severity:
        for name in rules.inhibit.equal:
            found.severe_scope.setdefault(name, set()).add(labels.get(name, ""))
