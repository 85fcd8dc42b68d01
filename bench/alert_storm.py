"""Alert storms over a service topology, with the ground truth a grouping engine should find.

The model, from a fixed seed:

* **Topology**: a random layered DAG (`random_topology`). Lower layers are shared
  infrastructure (databases, caches, queues, auth), upper layers APIs and front ends; each
  service depends on 1-4 services of lower layers, popular ones more often (preferential
  attachment), so a few hubs have dozens of transitive dependents, as in real catalogs.
  Teams own a handful of services each and deploy them into the team's namespace.
* **Outages**: a root service fails at a random time in one cluster. Its own alerts fire
  after a detection delay (an alert rule's `for:`), 15 s to 4 min. The failure then reaches
  each dependent with a probability that falls with depth (0.85, 0.65, 0.45, 0.25), 20-150 s
  after the dependency it came through, and each reached service fires 1-2 symptom alerts
  (mostly warnings, a third critical: front ends page on their SLOs) after its own
  detection delay — so a symptom can fire before the root's own alert. Everything recovers
  8-45 min later, symptoms a little after the root.
* **Background**: unrelated alerts (disk, certificates, crash loops, memory) on random
  services of random clusters at random times, 1-2 alerts per event, each event its own
  incident.
* **Pods**: services run 2-6 pods (infrastructure 1-3); alert rules that are not aggregated
  (`PER_POD`: latency, crash loops, timeouts…) fire once per hurt pod, a few seconds apart —
  during an outage on half to all of the pods, in the background on one or two.
* **Flapping**: 15 % of alerts resolve and re-fire 1-4 times, 0.5-3 min apart: the same
  fingerprint with a later `startsAt`, and the same incident.

Alerts carry the labels Alertmanager would send (`alertname`, `service`, `namespace`,
`cluster`, `severity`, and `pod` for per-pod rules) and the groupKey and group labels of a
`group_by: [alertname, cluster, service]` route; `with_route` gives them those of another
route shape (no `group_by`, `[alertname]`, `['...']`), as real configurations have.
When a generated alert's fingerprint is still firing from earlier, no new alert exists (an
alert cannot fire twice at once); the earlier one simply lasts longer.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from itertools import accumulate

from core.alerts import Alert, fingerprint
from core.topology import Service, Topology

CLUSTERS = ("prod-eu-1", "prod-us-1")
DOMAINS = (
    "payments", "orders", "catalog", "search", "identity", "shipping", "pricing", "inventory",
    "billing", "checkout", "reviews", "media", "notifications", "ledger", "fraud", "loyalty",
    "ads", "analytics", "support", "profile",
)  # fmt: skip
LAYERS = (
    ("infra", ("postgres", "redis", "kafka", "mysql", "elasticsearch", "rabbitmq", "s3-gateway")),
    ("core", ("store", "service", "worker", "indexer")),
    ("api", ("api", "svc", "grpc")),
    ("edge", ("web", "bff", "gateway", "mobile-api")),
)
LAYER_SHARE = (0.22, 0.28, 0.30, 0.20)
ROOT_ALERTS = {
    "infra": ("DatabaseDown", "TooManyConnections", "ReplicationLagHigh"),
    "core": ("WorkerQueueStuck", "HighErrorRate", "PodCrashLooping"),
    "api": ("HighErrorRate", "HighLatency", "PodCrashLooping"),
    "edge": ("HighErrorRate", "HighLatency", "ProbeFailing"),
}
SYMPTOM_ALERTS = ("HighErrorRate", "HighLatency", "UpstreamTimeouts", "SLOBurnRateHigh")
BACKGROUND_ALERTS = (
    "DiskSpaceLow", "CertificateExpiringSoon", "PodCrashLooping", "MemoryHigh",
    "CPUThrottlingHigh", "PodNotReady", "JobFailed",
)  # fmt: skip
# Alert rules that are not aggregated fire once per pod (the bulk of a real storm).
PER_POD = frozenset(
    {"PodCrashLooping", "PodNotReady", "UpstreamTimeouts", "HighLatency", "TooManyConnections"}
    | {"MemoryHigh", "CPUThrottlingHigh", "WorkerQueueStuck"}
)
PROPAGATION = (0.85, 0.65, 0.45, 0.25)
REWEIGH_EVERY = 20
PLATFORM = "platform-dns"


@dataclass(frozen=True)
class StormAlert:
    """One alert occurrence (a firing period) and the incident it truly belongs to."""

    alert: Alert
    truth: int
    kind: str  # "root", "symptom" or "background"


@dataclass
class _Period:
    fires: datetime
    ends: datetime
    labels: dict[str, str]
    incident: int
    kind: str


@dataclass
class Storm:
    topology: Topology
    alerts: list[StormAlert]
    roots: dict[int, str]  # outage incident → root service
    background: set[int] = field(default_factory=set)


def random_topology(
    rng: random.Random, size: int, *, platform: bool = False
) -> tuple[Topology, dict[str, str]]:
    """A layered DAG of `size` services with teams, tiers and users/revenue annotations, and
    each service's layer ("infra", "core", "api", "edge").

    A service depends on one service of the layer below and 0-3 of any lower layer, picked
    in proportion to how popular they already were (weights refreshed every few services,
    which keeps a 5,000-service graph quick to build), and now and then on an earlier service
    of its own layer, which makes chains deeper than the four layers. With `platform`, every
    infrastructure service also depends on `platform-dns`, whose blast radius is everything.
    """
    counts = [max(1, round(size * share)) for share in LAYER_SHARE]
    counts[-1] = max(1, size - sum(counts[:-1]))
    services: list[Service] = []
    by_layer: list[list[str]] = []
    popularity: dict[str, int] = {PLATFORM: 0} if platform else {}
    kinds: dict[str, str] = {}
    for (kind, suffixes), count in zip(LAYERS, counts, strict=True):
        below = by_layer[-1] if by_layer else []
        lower = [n for names in by_layer for n in names]
        layer_names: list[str] = []
        for index in range(count):
            if index % REWEIGH_EVERY == 0:
                below_weights = list(accumulate(popularity[n] + 1 for n in below))
                lower_weights = list(accumulate(popularity[n] + 1 for n in lower))
            domain = rng.choice(DOMAINS)
            name = f"{domain}-{rng.choice(suffixes)}"
            while name in kinds:
                name = f"{domain}-{rng.choice(suffixes)}-{rng.randint(2, 999)}"
            kinds[name] = kind
            depends_on: set[str] = set()
            if platform and not below:
                depends_on.add(PLATFORM)
            if below:
                depends_on.add(rng.choices(below, cum_weights=below_weights)[0])
                extra = rng.choice((0, 0, 1, 1, 1, 2, 2, 3))
                depends_on.update(rng.choices(lower, cum_weights=lower_weights, k=extra))
            if layer_names and rng.random() < 0.25:
                depends_on.add(rng.choice(layer_names))
            for dependency in depends_on:
                popularity[dependency] += 1
            popularity[name] = 0
            layer_names.append(name)
            users = rng.choice((0, 0, 500, 2_000, 10_000, 50_000)) if kind == "edge" else None
            services.append(
                Service(
                    name=name,
                    team=domain,
                    tier=_tier(rng, kind),
                    depends_on=tuple(sorted(depends_on)),
                    users=users,
                    revenue_per_hour=float(rng.choice((0, 100, 1_000, 5_000))) if users else None,
                )
            )
        by_layer.append(layer_names)
    if platform:
        services.append(Service(name=PLATFORM, team="platform", tier=1))
        kinds[PLATFORM] = "infra"
    return Topology(services), kinds


def _tier(rng: random.Random, kind: str) -> int:
    if kind in ("infra", "edge"):
        return rng.choice((1, 1, 2))
    return rng.choice((2, 3))


class StormGenerator:
    def __init__(
        self, rng: random.Random, topology: Topology, kinds: dict[str, str], start: datetime
    ) -> None:
        self.rng = rng
        self.topology = topology
        self.start = start
        self.kind = kinds
        self.periods: list[_Period] = []
        self.pods: dict[str, list[str]] = {}

    def storm(self, *, hours: float, outages: int, background: int, flap_share: float) -> Storm:
        span = timedelta(hours=hours)
        roots: dict[int, str] = {}
        incident = 0
        with_dependents = [n for n in self.topology.services if self.topology.dependents(n)]
        for _ in range(outages):
            incident += 1
            pool = with_dependents if self.rng.random() < 0.85 else list(self.topology.services)
            root = self.rng.choice(pool)
            roots[incident] = root
            self._outage(incident, root, self.start + span * self.rng.random())
        quiet: set[int] = set()
        for _ in range(background):
            incident += 1
            quiet.add(incident)
            self._background(incident, self.start + span * self.rng.random())
        alerts = self._alerts(flap_share)
        # An outage whose every alert merged into an earlier firing one left no trace of its own.
        seen = {item.truth for item in alerts}
        roots = {incident: root for incident, root in roots.items() if incident in seen}
        return Storm(self.topology, alerts, roots, quiet & seen)

    def _outage(self, incident: int, root: str, failed_at: datetime) -> None:
        rng = self.rng
        cluster = rng.choice(CLUSTERS)
        recovery = failed_at + timedelta(minutes=rng.uniform(8, 45))
        names = rng.sample(ROOT_ALERTS[self.kind[root]], rng.choice((1, 1, 2, 3)))
        first = failed_at + timedelta(seconds=rng.uniform(15, 240))
        for index, name in enumerate(names):
            fires = first + timedelta(seconds=index * rng.uniform(0, 120))
            severity = "critical" if index == 0 else rng.choice(("critical", "warning"))
            end = recovery + timedelta(seconds=rng.uniform(0, 60))
            self._add(fires, end, name, root, cluster, severity, incident, "root")
        reached = {root: failed_at}
        frontier = [root]
        for chance in PROPAGATION:
            following = []
            for current in frontier:
                for dependent in self.topology.dependents(current):
                    if dependent in reached or rng.random() >= chance:
                        continue
                    reached[dependent] = reached[current] + timedelta(seconds=rng.uniform(20, 150))
                    following.append(dependent)
            frontier = following
        for service, hurt_at in reached.items():
            if service == root:
                continue
            for name in rng.sample(SYMPTOM_ALERTS, rng.choice((1, 1, 2))):
                fires = hurt_at + timedelta(seconds=rng.uniform(30, 240))
                severity = "critical" if rng.random() < 0.33 else "warning"
                end = recovery + timedelta(seconds=rng.uniform(30, 300))
                if fires < end:
                    self._add(fires, end, name, service, cluster, severity, incident, "symptom")

    def _background(self, incident: int, at: datetime) -> None:
        rng = self.rng
        service = rng.choice(list(self.topology.services))
        cluster = rng.choice(CLUSTERS)
        for name in rng.sample(BACKGROUND_ALERTS, rng.choice((1, 1, 1, 2))):
            fires = at + timedelta(seconds=rng.uniform(0, 120))
            end = fires + timedelta(minutes=rng.uniform(2, 60))
            severity = rng.choice(("warning", "warning", "warning", "critical"))
            self._add(fires, end, name, service, cluster, severity, incident, "background")

    def _add(
        self,
        fires: datetime,
        ends: datetime,
        name: str,
        service: str,
        cluster: str,
        severity: str,
        incident: int,
        kind: str,
    ) -> None:
        labels = {
            "alertname": name,
            "service": service,
            "namespace": service.split("-")[0],
            "cluster": cluster,
            "severity": severity,
        }
        if name not in PER_POD:
            self.periods.append(_Period(fires, ends, labels, incident, kind))
            return
        pods = self._pods(service)
        if kind == "background":
            hit = pods[: self.rng.choice((1, 1, 1, 2))]
        else:
            hit = self.rng.sample(pods, max(1, round(len(pods) * self.rng.uniform(0.5, 1))))
        for pod in hit:
            at = fires + timedelta(seconds=self.rng.uniform(0, 45))
            if at < ends:
                self.periods.append(_Period(at, ends, {**labels, "pod": pod}, incident, kind))

    def _pods(self, service: str) -> list[str]:
        """The service's pods, the same every time it is asked (per-pod alert rules)."""
        pods = self.pods.get(service)
        if pods is None:
            replicas = (
                self.rng.randint(1, 3) if self.kind[service] == "infra" else self.rng.randint(2, 6)
            )
            suffix = "".join(self.rng.choices("bcdfghjklmnpqrstvwxz2456789", k=5))
            pods = self.pods[service] = [f"{service}-{suffix}-{i}" for i in range(replicas)]
        return pods

    def _alerts(self, flap_share: float) -> list[StormAlert]:
        """Periods → alert occurrences: overlapping periods of one fingerprint merge into the
        first (its incident keeps it), then some alerts flap."""
        runs: dict[str, list[_Period]] = {}
        for period in sorted(self.periods, key=lambda p: p.fires):
            key = fingerprint(period.labels)
            earlier = runs.setdefault(key, [])
            if earlier and period.fires <= earlier[-1].ends:
                earlier[-1].ends = max(earlier[-1].ends, period.ends)
                continue
            earlier.append(period)
        result: list[StormAlert] = []
        for key, periods in runs.items():
            for period in periods:
                for start, stop in self._flaps(period.fires, period.ends, flap_share):
                    alert = Alert(
                        fingerprint=key,
                        status="firing",
                        starts_at=start,
                        ends_at=stop,
                        labels=period.labels,
                        group_key=_group_key(period.labels),
                        group_labels=route_labels(period.labels, DEFAULT_ROUTE),
                    )
                    result.append(StormAlert(alert, period.incident, period.kind))
        result.sort(key=lambda item: (item.alert.starts_at, item.alert.fingerprint))
        return result

    def _flaps(
        self, fires: datetime, ends: datetime, share: float
    ) -> list[tuple[datetime, datetime]]:
        if self.rng.random() >= share:
            return [(fires, ends)]
        periods = []
        start = fires
        for _ in range(self.rng.randint(1, 4)):
            stop = start + timedelta(minutes=self.rng.uniform(1, 4))
            if stop >= ends:
                break
            periods.append((start, stop))
            start = stop + timedelta(minutes=self.rng.uniform(0.5, 3))
        periods.append((start, max(ends, start + timedelta(minutes=1))))
        return periods


DEFAULT_ROUTE = ("alertname", "cluster", "service")
ALL_LABELS = ("...",)  # Alertmanager's `group_by: ['...']`: every label


def route_labels(labels: dict[str, str], group_by: tuple[str, ...]) -> dict[str, str]:
    """The group labels a route with `group_by` gives an alert with `labels`."""
    if group_by == ALL_LABELS:
        return dict(labels)
    return {name: labels[name] for name in group_by if name in labels}


def route_key(labels: dict[str, str], group_by: tuple[str, ...]) -> str:
    """The groupKey Alertmanager sends for such an alert: `{route}:{name="value", …}`."""
    grouped = route_labels(labels, group_by)
    return "{}:{" + ", ".join(f'{k}="{v}"' for k, v in sorted(grouped.items())) + "}"


def _group_key(labels: dict[str, str]) -> str:
    return route_key(labels, DEFAULT_ROUTE)


def with_route(storm: Storm, group_by: tuple[str, ...]) -> Storm:
    """The same storm as a route with `group_by` would deliver it (`()`: no group_by)."""
    alerts = [
        replace(
            item,
            alert=replace(
                item.alert,
                group_key=route_key(item.alert.labels, group_by),
                group_labels=route_labels(item.alert.labels, group_by),
            ),
        )
        for item in storm.alerts
    ]
    return replace(storm, alerts=alerts)
