"""The grouping and inhibition rules, as the `grouping:` section of `LOOKOUT_CONFIG` says.

Every field has the default the product ships with, so an empty section is a working one:

```yaml
grouping:
  window_minutes: 10          # labels and topology match within this of the incident's last alert
  topology_hops: 2            # dependency hops from a service failing in the incident
  topology_equal: [cluster]   # ...and these labels must be equal (an outage in one cluster only)
  label_dimensions:           # each: the first label names the thing, the rest qualify it
    - [service, cluster]      # "service" is the service label, else job, else namespace
    - [host]
  group_key: true             # the same Alertmanager groupKey joins, within the window, when
                              # its group labels name a service or an instance (below)
  service_labels: [service, service.name, service_name, app.kubernetes.io/name,
                   app_kubernetes_io_name, app, k8s_app, job, namespace]
  instance_labels: [instance, host, hostname, node, pod]
  merge_linked: true          # a cause alerting after its symptoms merges their incidents
  reopen_grace_minutes: 10    # a resolved incident takes a late alert back within this
                              # (in event time and in arrival time both)
  reopen_on: [fingerprint, group_key]
  inhibit:
    source_min_severity: critical
    target_max_severity: warning
    equal: [cluster]
```

A group key is only as good as its route's `group_by`: a route without one sends every
alert with the key `{}:{}`, and `group_by: [alertname]` puts a whole fleet's alerts of one
name together. So a key counts as evidence only when its group labels include one of
`service_labels` or `instance_labels`; otherwise it is ignored and the labels and topology
decide, as for an alert with no key at all.

A namespace is no default dimension: teams often share one among many services, and a
namespace-wide match pulls unrelated alerts together (an alert without a `service` or `job`
label is still matched by its namespace, as its service). Add `[namespace, cluster]` where a
namespace is one application.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from enum import StrEnum
from functools import cached_property
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from core.alerts import DEFAULT_SERVICE_LABELS
from core.severity import Severity, severity_from_name


class Evidence(StrEnum):
    """Why an alert belongs to an incident, strongest first in `STRENGTH`."""

    FINGERPRINT = "fingerprint"
    GROUP_KEY = "group_key"
    LABELS = "labels"
    TOPOLOGY = "topology"


STRENGTH = {
    Evidence.FINGERPRINT: 4,
    Evidence.GROUP_KEY: 3,
    Evidence.LABELS: 2,
    Evidence.TOPOLOGY: 1,
}


def _severity(value: Any) -> Severity:
    if isinstance(value, Severity):
        return value
    if isinstance(value, str):
        return severity_from_name(value)
    raise ValueError(f"a severity name is expected, not {value!r}")


class InhibitRules(BaseModel):
    """Alertmanager-style inhibition along the dependency graph.

    An alert no worse than `target_max_severity` on a service that depends (transitively,
    within `max_hops` if set) on a service of the same incident that has an alert at least as
    bad as `source_min_severity`, with the `equal` labels equal, is attached but does not page.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    source_min_severity: Severity = Severity.CRITICAL
    target_max_severity: Severity = Severity.WARNING
    equal: tuple[str, ...] = ("cluster",)
    max_hops: int | None = Field(default=None, ge=1)

    @field_validator("source_min_severity", "target_max_severity", mode="before")
    @classmethod
    def _parse_severity(cls, value: Any) -> Severity:
        return _severity(value)


class GroupingRules(BaseModel):
    """How alerts become incidents. Times are minutes of event time (`startsAt`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    window_minutes: float = Field(default=10, gt=0, le=24 * 60)
    topology_hops: int = Field(default=2, ge=0, le=10)
    topology_equal: tuple[str, ...] = ("cluster",)
    label_dimensions: tuple[tuple[str, ...], ...] = (("service", "cluster"), ("host",))
    group_key: bool = True
    service_labels: tuple[str, ...] = Field(default=DEFAULT_SERVICE_LABELS, min_length=1)
    instance_labels: tuple[str, ...] = ("instance", "host", "hostname", "node", "pod")
    merge_linked: bool = True
    reopen_grace_minutes: float = Field(default=10, ge=0, le=7 * 24 * 60)
    reopen_on: frozenset[Evidence] = frozenset({Evidence.FINGERPRINT, Evidence.GROUP_KEY})
    inhibit: InhibitRules = Field(default_factory=InhibitRules)

    @field_validator("label_dimensions")
    @classmethod
    def _dimensions_not_empty(
        cls, value: tuple[tuple[str, ...], ...]
    ) -> tuple[tuple[str, ...], ...]:
        if any(not dimension for dimension in value):
            raise ValueError("a label dimension needs at least one label")
        return value

    # Cached: the engine reads these for every (alert, incident) pair of a storm.
    @cached_property
    def window(self) -> timedelta:
        return timedelta(minutes=self.window_minutes)

    @cached_property
    def reopen_grace(self) -> timedelta:
        return timedelta(minutes=self.reopen_grace_minutes)

    @cached_property
    def scope_labels(self) -> tuple[str, ...]:
        """Labels whose values an incident remembers per service (topology and inhibition
        compare them)."""
        return tuple(dict.fromkeys(self.topology_equal + self.inhibit.equal))

    def identifies(self, group_labels: Mapping[str, str] | None) -> bool:
        """Whether an Alertmanager group with these group labels is about one service or
        instance, so that sharing its key says something (None: the labels are unknown)."""
        if not group_labels:
            return False
        return any(group_labels.get(name) for name in (*self.service_labels, *self.instance_labels))

    @classmethod
    def from_yaml(cls, data: Mapping[str, Any] | None) -> GroupingRules:
        """The `grouping:` section as loaded by a YAML parser (None for a missing section);
        raises pydantic.ValidationError naming the bad field."""
        return cls.model_validate(dict(data or {}))


DEFAULT_RULES = GroupingRules()
