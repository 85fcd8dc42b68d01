"""Parsers that turn what each source says about services into a `Topology`.

Three sources, already read or fetched by the caller (core does no I/O):

* the `services:` list of the `LOOKOUT_CONFIG` YAML;
* Backstage `catalog-info.yaml` documents (Component, Resource, System, API entities);
* a Prometheus instant-vector result of service-graph metrics, either Tempo's
  `traces_service_graph_request_total{client, server}` or Istio's
  `istio_requests_total{source_workload, destination_workload}`.

`topology.merge(config, backstage, prometheus)` combines them, strongest first.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from core.topology import BACKSTAGE, CONFIG, PROMETHEUS, Service, Topology

BACKSTAGE_KINDS = frozenset({"component", "resource", "system", "api"})
TIER_ANNOTATION = "lookout.io/tier"
USERS_ANNOTATION = "lookout.io/users"
REVENUE_ANNOTATION = "lookout.io/revenue-per-hour"
CHANNEL_ANNOTATION = "lookout.io/channel"
RUNBOOKS_ANNOTATION = "lookout.io/runbooks"
TYPE_ANNOTATION = "lookout.io/type"

# (client label, server label) of each service-graph metric shape Lookout understands.
SERVICE_GRAPH_SHAPES = (("client", "server"), ("source_workload", "destination_workload"))
# Istio names traffic from outside the mesh "unknown"; it is not a service of ours.
UNNAMED = frozenset({"", "unknown"})

_Number = TypeVar("_Number", int, float)


class _ServiceEntry(BaseModel):
    """One entry of the config's `services:` list (extra keys belong to other features)."""

    model_config = ConfigDict(extra="ignore")

    name: str = Field(min_length=1)
    team: str | None = None
    tier: int | None = Field(default=None, ge=1, le=3)
    depends_on: list[str] = Field(default_factory=list)
    channel: str | None = None
    runbooks: list[str] = Field(default_factory=list)
    annotations: dict[str, Any] = Field(default_factory=dict)
    type: str | None = Field(default=None, min_length=1, max_length=64)


def from_config(services: Sequence[Mapping[str, Any]]) -> Topology:
    """The config's `services:` list; raises ValueError naming the entry that is wrong."""
    parsed = []
    for index, raw in enumerate(services):
        try:
            entry = _ServiceEntry.model_validate(raw)
        except ValidationError as error:
            raise ValueError(f"services[{index}]: {_first_error(error)}") from None
        parsed.append(
            Service(
                name=entry.name,
                team=entry.team,
                tier=entry.tier,
                depends_on=tuple(entry.depends_on),
                channel=entry.channel,
                runbooks=tuple(entry.runbooks),
                users=_number(entry.annotations.get("users"), int, f"{entry.name}: users"),
                revenue_per_hour=_number(
                    entry.annotations.get("revenue_per_hour"), float, f"{entry.name}: revenue"
                ),
                sources=frozenset({CONFIG}),
                type=entry.type,
            )
        )
    return Topology(parsed)


def from_backstage(documents: Sequence[Any]) -> Topology:
    """Entities of Backstage `catalog-info.yaml` files (all documents of all files).

    Components, Resources, Systems and APIs become services named by `metadata.name`; the
    owner is `spec.owner` without its kind and namespace (`group:default/payments` is
    `payments`); `spec.dependsOn` entity references (`component:default/postgres`,
    `resource:postgres`, `postgres`) become edges, and so does `spec.dependencyOf` the other
    way. Lookout's own facts come from `lookout.io/*` annotations. Other kinds (Location,
    Group, User, Template…) and empty documents are skipped.
    """
    found: dict[str, Service] = {}
    dependency_of: list[tuple[str, str]] = []
    for document in documents:
        if not isinstance(document, Mapping):
            continue
        if str(document.get("kind", "")).lower() not in BACKSTAGE_KINDS:
            continue
        metadata = document.get("metadata") or {}
        spec = document.get("spec") or {}
        name = metadata.get("name") if isinstance(metadata, Mapping) else None
        if not isinstance(name, str) or not name or not isinstance(spec, Mapping):
            continue
        annotations = metadata.get("annotations") or {}
        owner = spec.get("owner")
        service = Service(
            name=name,
            team=entity_name(owner) if isinstance(owner, str) and owner else None,
            tier=_tier(annotations.get(TIER_ANNOTATION), name),
            depends_on=tuple(entity_name(ref) for ref in _strings(spec.get("dependsOn"))),
            channel=annotations.get(CHANNEL_ANNOTATION) or None,
            runbooks=tuple(
                item.strip()
                for item in str(annotations.get(RUNBOOKS_ANNOTATION, "")).split(",")
                if item.strip()
            ),
            users=_number(annotations.get(USERS_ANNOTATION), int, f"{name}: users"),
            revenue_per_hour=_number(
                annotations.get(REVENUE_ANNOTATION), float, f"{name}: revenue"
            ),
            sources=frozenset({BACKSTAGE}),
            type=_type(annotations.get(TYPE_ANNOTATION), spec.get("type")),
        )
        seen = found.get(name)
        if seen is not None:
            # A Component and a Resource may share a name; for alerts they are one service.
            service = replace(seen, depends_on=seen.depends_on + service.depends_on)
        found[name] = service
        dependency_of += [(entity_name(ref), name) for ref in _strings(spec.get("dependencyOf"))]
    for dependent, dependency in dependency_of:
        seen = found.get(dependent) or Service(name=dependent, sources=frozenset({BACKSTAGE}))
        found[dependent] = replace(seen, depends_on=(*seen.depends_on, dependency))
    return Topology(found.values())


def _type(annotation: Any, spec_type: Any) -> str | None:
    """`lookout.io/type` when set (`postgresql`), else the entity's `spec.type` (`service`,
    `database`…), lower-cased."""
    for value in (annotation, spec_type):
        if isinstance(value, str) and value.strip():
            return value.strip().lower()
    return None


def from_service_graph(samples: Sequence[Mapping[str, Any]]) -> Topology:
    """Edges from a Prometheus instant vector (`data.result` of `/api/v1/query`).

    Each sample `{"metric": {...}, "value": [ts, "12.5"]}` with a positive value is an edge
    client -> server, i.e. the client depends on the server. Tempo's uninstrumented callers
    (`client="user"` on a `connection_type="virtual_node"` edge) and Istio's `unknown`
    workloads are not services and are skipped, as are self-calls.
    """
    edges: dict[str, dict[str, None]] = {}
    for sample in samples:
        metric = sample.get("metric") or {}
        edge = _edge(metric)
        if edge is None or not _positive(sample.get("value")):
            continue
        client, server = edge
        edges.setdefault(client, {})[server] = None
        edges.setdefault(server, {})
    return Topology(
        Service(name=name, depends_on=tuple(servers), sources=frozenset({PROMETHEUS}))
        for name, servers in edges.items()
    )


def entity_name(reference: str) -> str:
    """`[kind:][namespace/]name` → `name` (Backstage entity references and owners)."""
    return reference.rsplit(":", 1)[-1].rsplit("/", 1)[-1].strip()


def _edge(metric: Mapping[str, Any]) -> tuple[str, str] | None:
    for client_label, server_label in SERVICE_GRAPH_SHAPES:
        client, server = metric.get(client_label), metric.get(server_label)
        if isinstance(client, str) and isinstance(server, str):
            if client in UNNAMED or server in UNNAMED or client == server:
                return None
            if client == "user" and metric.get("connection_type") == "virtual_node":
                return None
            return client, server
    return None


def _positive(value: Any) -> bool:
    """A sample counts when its value is a positive number ("NaN" and 0 mean no traffic)."""
    try:
        number = float(value[1])
    except (TypeError, ValueError, IndexError, KeyError):
        return False
    return math.isfinite(number) and number > 0


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [item for item in value if isinstance(item, str) and item.strip()]
    return []


def _tier(value: Any, name: str) -> int | None:
    tier = _number(value, int, f"{name}: {TIER_ANNOTATION}")
    if tier is not None and not 1 <= tier <= 3:
        raise ValueError(f"{name}: {TIER_ANNOTATION} must be 1, 2 or 3, not {tier}")
    return tier


def _number(value: Any, kind: type[_Number], what: str) -> _Number | None:
    """Annotations are often strings ("1200"); accept numbers written either way."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError(f"{what} must be a number, not {value!r}")
    try:
        number = float(str(value).replace("_", "").replace(",", ""))
    except ValueError:
        raise ValueError(f"{what} must be a number, not {value!r}") from None
    if not math.isfinite(number) or number < 0:
        raise ValueError(f"{what} must be a non-negative number, not {value!r}")
    return kind(number)


def _first_error(error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"])
    return f"{where}: {first['msg']}" if where else str(first["msg"])
