"""Ingest benchmark: an Alertmanager alert storm against a running Lookout on SQLite.

What it does, in one run:

1. Starts `lookout serve` on a free loopback port with a fresh data dir (so a fresh SQLite
   file) and a webhook token — or, with `--url`, targets a server that is already running.
2. Generates, from a fixed seed, `--alerts` alerts as Alertmanager v4 webhook bodies of
   `--batch` alerts each, over `--services` services, with event times (`startsAt`) spread
   over the last two hours so the 30-minute grouping window matters.
3. Measures a baseline, then the ingest, with the same client, the same connections, the same
   bodies and the same `--concurrency`; prints alerts/s, latency percentiles per batch, the
   ratio against the baseline, incidents, chat posts and updates, and PASS/FAIL per target.

How the storm is modelled (one body is always one Alertmanager notification of ONE group,
because `groupKey` is per body and Lookout groups by it):

* Most bodies are service groups (`group_by: [service]`, groupKey `{}:{service="…"}`); a
  service is picked with Zipf-like weights, so a few services are noisy and many are quiet.
* About a fifth are platform-wide groups (`group_by: [alertname, cluster]`, groupKey
  `{}/{team="platform"}:{alertname="…", cluster="…"}`) whose alerts span many services; these
  are what spreads the storm over all `--services` services.
* Like a real group re-notification, a body carries alerts its group already sent: ~15 % of
  all alerts are re-deliveries (same fingerprint + startsAt, byte-identical), ~10 % are
  resolves of earlier alerts (same fingerprint + startsAt, `status: resolved`, `endsAt` set),
  and a few new alerts are re-fires of resolved ones (same fingerprint, later startsAt).
* Two notifications of the same group are never in flight at once (Alertmanager's per-group
  pipeline is serial); different groups are sent concurrently, in event-time order.

Baseline: every body is POSTed once to the same webhook, with the valid token, but with one
byte (`#`) in front so that it is not JSON. The server then runs the same HTTP stack,
routing, authorization and full body read, and answers 400 at the first byte of
`json.loads` — no JSON decoding, validation, grouping, database or notifier work. The
ratio (ingest time per batch / baseline time per batch) is therefore the cost of Lookout's
own work on top of the unavoidable HTTP + transfer floor, and it is measured against the same
server, over the same warm connections, in the same run. Nothing is stored by the baseline.

Latency is per webhook (one batch), measured by the client from sending the request to
reading the whole response, so it includes time spent waiting for the server's ingest lock
behind concurrent batches — what Alertmanager would see. Percentiles are nearest-rank.

Targets (reported, never asserted): >= 2,000 alerts/s, p99 < 250 ms per batch, chat posts ==
incidents (updates coalesced). The exit code is 0 unless the run itself broke: the server
did not start, or a webhook did not answer 200.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from core.alerts import fingerprint

REPO = Path(__file__).resolve().parent.parent
ZERO_TIME = "0001-01-01T00:00:00Z"
WEBHOOK = "/webhooks/alertmanager"

TARGET_ALERTS_PER_S = 2000.0
TARGET_P99_MS = 250.0

REPEAT_SHARE = 0.15  # re-deliveries of already-sent alerts (same fingerprint + startsAt)
RESOLVE_SHARE = 0.10  # resolves of already-sent alerts
REFIRE_SHARE = 0.05  # of the new alerts: a resolved alert firing again (new startsAt)
PLATFORM_SHARE = 0.2  # bodies that are platform-wide (alertname, cluster) groups
STORM_SPAN = timedelta(hours=2)
GROUP_WAIT = 300.0  # seconds: new alerts of a notification started up to this long before it

CLUSTERS = ("prod-eu1", "prod-us1", "prod-ap1")
CLUSTER_WEIGHTS = (5, 4, 2)
DOMAINS = (
    "checkout",
    "payments",
    "cart",
    "catalog",
    "search",
    "auth",
    "accounts",
    "orders",
    "inventory",
    "shipping",
    "pricing",
    "recommendations",
    "notifications",
    "email",
    "billing",
    "invoicing",
    "ledger",
    "fraud",
    "identity",
    "sessions",
    "media",
    "images",
    "reviews",
    "loyalty",
    "coupons",
    "gateway",
    "edge",
    "ingest",
    "reporting",
    "analytics",
)
KINDS = ("api", "worker", "db", "cache", "consumer", "scheduler", "frontend")
TEAMS = ("payments", "commerce", "growth", "identity", "data", "core", "edge")
ROUTES = ("/api/v1/orders", "/api/v1/cart", "/api/v2/search", "/login", "/checkout", "/healthz")
SEVERITY_MIX = (("critical", 2), ("error", 3), ("warning", 4), ("info", 1))


@dataclass(frozen=True)
class Rule:
    """An alerting rule as a Prometheus rule file would carry it."""

    name: str
    severities: tuple[tuple[str, int], ...]
    summary: str
    description: str
    expr: str
    target: str  # which identifying labels the rule's series have: pod, route, disk, target


SERVICE_RULES = (
    Rule(
        "HighErrorRate",
        (("critical", 3), ("error", 2)),
        "{service}: 5xx ratio {pct}% on {route}",
        "More than 5% of requests to {service} on {route} failed for 5 minutes.",
        'sum(rate(http_requests_total{{code=~"5..",service="{service}"}}[5m]))',
        "route",
    ),
    Rule(
        "LatencyP99High",
        (("error", 2), ("warning", 3)),
        "{service}: p99 latency {ms} ms on {route}",
        "p99 latency of {service} on {route} is above 500 ms for 10 minutes.",
        "histogram_quantile(0.99, rate(http_request_duration_seconds_bucket[5m]))",
        "route",
    ),
    Rule(
        "PodCrashLooping",
        (("critical", 1), ("error", 2), ("warning", 1)),
        "Pod {namespace}/{pod} is crash looping",
        "Pod {pod} ({container}) restarted {restarts} times in the last 15 minutes.",
        "increase(kube_pod_container_status_restarts_total[15m]) > 3",
        "pod",
    ),
    Rule(
        "KubePodNotReady",
        (("warning", 1),),
        "Pod {namespace}/{pod} has been in a non-ready state for more than 15 minutes",
        "Pod {pod} of {service} is not ready.",
        'kube_pod_status_phase{phase=~"Pending|Unknown"} > 0',
        "pod",
    ),
    Rule(
        "CPUThrottlingHigh",
        (("info", 2), ("warning", 1)),
        "{pct}% throttling of CPU in namespace {namespace} for container {container}",
        "Container {container} in pod {pod} is throttled; consider raising its CPU limit.",
        "rate(container_cpu_cfs_throttled_periods_total[5m]) > 0.25",
        "pod",
    ),
    Rule(
        "HighMemoryUsage",
        (("warning", 3), ("error", 1)),
        "{service}: memory usage {pct}% of limit on {pod}",
        "Container {container} in {pod} uses more than 90% of its memory limit.",
        "container_memory_working_set_bytes / container_spec_memory_limit_bytes > 0.9",
        "pod",
    ),
    Rule(
        "DiskWillFillIn4Hours",
        (("critical", 1), ("warning", 2)),
        "Disk {device} on {instance} will fill in 4 hours",
        "Filesystem {mountpoint} on {instance} is predicted to run out of space within 4 h.",
        "predict_linear(node_filesystem_avail_bytes[6h], 4 * 3600) < 0",
        "disk",
    ),
    Rule(
        "TargetDown",
        (("warning", 2), ("error", 1)),
        "{pct}% of the {service} targets in {namespace} are down",
        "Prometheus cannot scrape {instance}.",
        "up == 0",
        "target",
    ),
    Rule(
        "SLOErrorBudgetBurn",
        (("critical", 1), ("warning", 2)),
        "{service}: error budget burning {burn}x faster than allowed",
        "At this rate the 30-day error budget of {service} is gone in {hours} hours.",
        "slo:sli_error:ratio_rate1h > (14.4 * 0.001)",
        "route",
    ),
    Rule(
        "QueueBacklogGrowing",
        (("warning", 2), ("error", 1)),
        "{service}: consumer lag {lag} messages and growing",
        "Consumer group of {service} is falling behind on its topic.",
        "sum(kafka_consumergroup_lag) by (consumergroup) > 10000",
        "pod",
    ),
)
PLATFORM_RULES = tuple(
    rule
    for rule in SERVICE_RULES
    if rule.name in ("TargetDown", "KubePodNotReady", "CPUThrottlingHigh", "PodCrashLooping")
)


@dataclass(frozen=True)
class Service:
    name: str
    namespace: str
    team: str
    cluster: str
    port: int


@dataclass
class Sent:
    """One alert as it was last sent (re-deliveries send exactly this again)."""

    body: dict[str, Any]
    starts_at: datetime


@dataclass
class GroupState:
    key: str
    firing: list[Sent] = field(default_factory=list)
    resolved: list[Sent] = field(default_factory=list)


@dataclass(frozen=True)
class Batch:
    index: int
    group: str
    body: bytes
    alerts: int
    new: int
    repeats: int
    resolves: int


@dataclass
class Storm:
    batches: list[Batch]
    services_in_labels: int
    group_keys: int
    new: int = 0
    refires: int = 0
    repeats: int = 0
    resolves: int = 0


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Generator:
    """A deterministic Alertmanager storm (everything derives from `seed` and `now`)."""

    def __init__(
        self, *, seed: int, services: int, now: datetime, platform_share: float = PLATFORM_SHARE
    ) -> None:
        self.rng = random.Random(seed)
        self.now = now
        self.platform_share = platform_share
        self.services = self._services(services)
        ranks = list(range(1, len(self.services) + 1))
        self.rng.shuffle(ranks)
        self.weights = [1.0 / rank for rank in ranks]  # Zipf-like: a few noisy services
        self.active: set[str] = set()  # fingerprints firing right now (anywhere)
        self.groups: dict[str, GroupState] = {}
        # groupKey -> (the platform rule, or None for a service group; the services it spans)
        self.specs: dict[str, tuple[Rule | None, list[Service]]] = {}

    def _services(self, count: int) -> list[Service]:
        names = [f"{domain}-{kind}" for domain in DOMAINS for kind in KINDS]
        self.rng.shuffle(names)
        names = names[:count] + [f"svc-{i:03d}" for i in range(len(names), count)]
        services = []
        for name in names:
            namespace = name.rsplit("-", 1)[0] if not name.startswith("svc-") else "apps"
            services.append(
                Service(
                    name=name,
                    namespace=namespace,
                    team=TEAMS[sum(map(ord, namespace)) % len(TEAMS)],
                    cluster=self.rng.choices(CLUSTERS, CLUSTER_WEIGHTS)[0],
                    port=self.rng.choice((8080, 8443, 9090, 3000, 5432, 6379)),
                )
            )
        return services

    def _hex(self, digits: int) -> str:
        return "".join(self.rng.choice("0123456789abcdef") for _ in range(digits))

    def _pod(self, service: Service) -> str:
        suffix = "".join(self.rng.choice("bcdfghjklmnpqrstvwxz2456789") for _ in range(5))
        return f"{service.name}-{self._hex(9)}-{suffix}"

    def _alert(self, rule: Rule, service: Service, team: str, starts_at: datetime) -> Sent:
        rng = self.rng
        severity = rng.choices([s for s, _ in rule.severities], [w for _, w in rule.severities])[0]
        labels = {
            "alertname": rule.name,
            "severity": severity,
            "service": service.name,
            "namespace": service.namespace,
            "cluster": service.cluster,
            "team": team,
            "prometheus": f"monitoring/{service.cluster}",
        }
        pod = self._pod(service)
        instance = f"10.{rng.randrange(16, 32)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
        values = {
            "service": service.name,
            "namespace": service.namespace,
            "pod": pod,
            "container": service.name.rsplit("-", 1)[-1],
            "route": rng.choice(ROUTES),
            "instance": f"{instance}:{service.port}",
            "device": rng.choice(("/dev/nvme0n1p1", "/dev/nvme1n1", "/dev/sda1")),
            "mountpoint": rng.choice(("/", "/var/lib/kubelet", "/data")),
            "pct": str(rng.randrange(6, 98)),
            "ms": str(rng.randrange(520, 4800)),
            "restarts": str(rng.randrange(4, 40)),
            "burn": str(rng.randrange(6, 40)),
            "hours": str(rng.randrange(2, 48)),
            "lag": str(rng.randrange(10_000, 900_000)),
        }
        if rule.target == "pod":
            labels |= {"pod": pod, "container": values["container"]}
        elif rule.target == "route":
            labels |= {"route": values["route"], "method": rng.choice(("GET", "POST"))}
        elif rule.target == "disk":
            labels |= {
                "instance": f"node-{service.cluster}-{rng.randrange(1, 60):02d}:9100",
                "device": values["device"],
                "mountpoint": values["mountpoint"],
                "job": "node-exporter",
            }
            values["instance"] = labels["instance"]
        else:
            labels |= {"instance": values["instance"], "job": service.name}
        annotations = {
            "summary": rule.summary.format(**values),
            "description": rule.description.format(**values),
            "runbook_url": f"https://runbooks.example.com/alerts/{rule.name.lower()}",
        }
        prom = f"http://prometheus.{service.cluster}.example.com:9090"
        body = {
            "status": "firing",
            "labels": labels,
            "annotations": annotations,
            "startsAt": rfc3339(starts_at),
            "endsAt": ZERO_TIME,
            "generatorURL": f"{prom}/graph?g0.expr={quote(rule.expr)}&g0.tab=1",
            "fingerprint": fingerprint(labels),
        }
        return Sent(body=body, starts_at=starts_at)

    def _fresh(self, group: str, at: datetime, taken: set[str]) -> Sent:
        """A new alert for `group` whose fingerprint is not firing anywhere."""
        for _ in range(50):
            starts_at = at - timedelta(seconds=self.rng.uniform(0, GROUP_WAIT))
            rule, members = self.specs[group]
            service = self.rng.choice(members)
            if rule is None:  # a service group: any of the service's rules
                sent = self._alert(self.rng.choice(SERVICE_RULES), service, service.team, starts_at)
            else:  # a platform group: one rule, any service of the cluster
                sent = self._alert(rule, service, "platform", starts_at)
            fp = sent.body["fingerprint"]
            if fp not in self.active and fp not in taken:
                return sent
        raise RuntimeError(f"could not find a fresh alert for {group}")

    def _pick_group(self) -> str:
        if self.rng.random() < self.platform_share:
            rule = self.rng.choice(PLATFORM_RULES)
            cluster = self.rng.choices(CLUSTERS, CLUSTER_WEIGHTS)[0]
            key = f'{{}}/{{team="platform"}}:{{alertname="{rule.name}", cluster="{cluster}"}}'
            members = [s for s in self.services if s.cluster == cluster]
            self.specs[key] = (rule, members)
            return key
        service = self.rng.choices(self.services, self.weights)[0]
        key = f'{{}}:{{service="{service.name}"}}'
        self.specs[key] = (None, [service])
        return key

    def storm(self, *, alerts: int, batch: int) -> Storm:
        count = math.ceil(alerts / batch)
        start = self.now - STORM_SPAN
        times = sorted(start + STORM_SPAN * ((i + self.rng.random()) / count) for i in range(count))
        result = Storm(batches=[], services_in_labels=0, group_keys=0)
        done = 0
        services_seen: set[str] = set()
        for index, at in enumerate(times):
            size = min(batch, alerts - done)
            key = self._pick_group()
            state = self.groups.setdefault(key, GroupState(key))
            # Carry the shortfall forward: a group's first notification has nothing to repeat.
            repeats = round(REPEAT_SHARE * (done + size)) - result.repeats
            repeats = max(0, min(repeats, size // 2, len(state.firing)))
            resolves = round(RESOLVE_SHARE * (done + size)) - result.resolves
            resolves = max(0, min(resolves, size // 4, len(state.firing) - repeats))
            self.rng.shuffle(state.firing)
            repeated = state.firing[:repeats]
            resolving = state.firing[repeats : repeats + resolves]
            state.firing = state.firing[repeats + resolves :] + repeated
            items: list[dict[str, Any]] = [sent.body for sent in repeated]
            for sent in resolving:
                earliest = max(sent.starts_at + timedelta(seconds=30), at - timedelta(minutes=5))
                ends_at = earliest + (at - earliest) * self.rng.random()
                resolved = dict(sent.body, status="resolved", endsAt=rfc3339(ends_at))
                items.append(resolved)
                self.active.discard(sent.body["fingerprint"])
                state.resolved.append(Sent(body=resolved, starts_at=ends_at))
            taken = {item["fingerprint"] for item in items}
            fresh: list[Sent] = []
            for _ in range(size - len(items)):
                refire = self._refire(state, at, taken)
                sent = refire or self._fresh(key, at, taken)
                result.refires += refire is not None
                taken.add(sent.body["fingerprint"])
                fresh.append(sent)
            for sent in fresh:
                self.active.add(sent.body["fingerprint"])
                state.firing.append(sent)
                items.append(sent.body)
            self.rng.shuffle(items)
            services_seen.update(item["labels"]["service"] for item in items)
            body = {
                "version": "4",
                "groupKey": key,
                "status": "firing" if any(i["status"] == "firing" for i in items) else "resolved",
                "receiver": "lookout",
                "groupLabels": dict(re.findall(r'(\w+)="([^"]*)"', key.split(":", 1)[1])),
                "commonLabels": {},
                "commonAnnotations": {},
                "externalURL": "http://alertmanager.example.com:9093",
                "truncatedAlerts": 0,
                "alerts": items,
            }
            result.batches.append(
                Batch(
                    index=index,
                    group=key,
                    body=json.dumps(body, separators=(",", ":")).encode(),
                    alerts=len(items),
                    new=len(fresh),
                    repeats=len(repeated),
                    resolves=len(resolving),
                )
            )
            result.new += len(fresh)
            result.repeats += len(repeated)
            result.resolves += len(resolving)
            done += size
        result.services_in_labels = len(services_seen)
        result.group_keys = len(self.groups)
        return result

    def _refire(self, state: GroupState, at: datetime, taken: set[str]) -> Sent | None:
        """Now and then a resolved alert of the group fires again (same labels, new start)."""
        if not state.resolved or self.rng.random() >= REFIRE_SHARE:
            return None
        old = self.rng.choice(state.resolved)
        fp = old.body["fingerprint"]
        if fp in self.active or fp in taken or old.starts_at >= at:
            return None
        state.resolved.remove(old)
        starts_at = old.starts_at + (at - old.starts_at) * self.rng.uniform(0.3, 1.0)
        body = dict(old.body, status="firing", startsAt=rfc3339(starts_at), endsAt=ZERO_TIME)
        return Sent(body=body, starts_at=starts_at)


# --------------------------------------------------------------------------- measuring


@dataclass
class Phase:
    latencies: list[float] = field(default_factory=list)  # seconds, per batch
    by_batch: dict[int, float] = field(default_factory=dict)  # batch index -> seconds
    statuses: Counter[int] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    responses: list[dict[str, Any]] = field(default_factory=list)
    wall: float = 0.0


def percentile(values: Sequence[float], share: float) -> float:
    """Nearest-rank percentile (p99 of 100 samples is the 99th smallest)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


async def run_phase(
    client: httpx.AsyncClient,
    batches: Sequence[Batch],
    *,
    concurrency: int,
    token: str | None,
    prefix: bytes,
    expect: int,
) -> Phase:
    """POST every batch in order with `concurrency` in flight, one group at a time."""
    phase = Phase()
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    queue = list(reversed(batches))
    group_locks: dict[str, asyncio.Lock] = {}

    async def worker() -> None:
        while queue:
            batch = queue.pop()
            lock = group_locks.setdefault(batch.group, asyncio.Lock())
            async with lock:  # FIFO: an earlier notification of a group goes first
                started = time.perf_counter()
                try:
                    response = await client.post(
                        WEBHOOK, content=prefix + batch.body, headers=headers
                    )
                except httpx.HTTPError as error:
                    phase.failures.append(f"batch {batch.index}: {type(error).__name__}: {error}")
                    continue
                elapsed = time.perf_counter() - started
                phase.latencies.append(elapsed)
                phase.by_batch[batch.index] = elapsed
            phase.statuses[response.status_code] += 1
            if response.status_code != expect:
                phase.failures.append(
                    f"batch {batch.index}: HTTP {response.status_code}: {response.text[:300]}"
                )
            elif expect == 200:
                phase.responses.append(response.json())

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    phase.wall = time.perf_counter() - started
    return phase


_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)")


async def scrape(client: httpx.AsyncClient) -> dict[str, float]:
    """`/metrics` as {'name{labels}': value}."""
    response = await client.get("/metrics")
    response.raise_for_status()
    samples: dict[str, float] = {}
    for line in response.text.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        match = _SAMPLE.match(line)
        if match:
            samples[match[1] + (match[2] or "")] = float(match[3])
    return samples


def metric(samples: dict[str, float], name: str, **labels: str) -> float:
    """Sum of the samples of `name` whose labels include `labels`."""
    total = 0.0
    for key, value in samples.items():
        base, _, rest = key.partition("{")
        if base != name:
            continue
        if all(f'{label}="{wanted}"' in rest for label, wanted in labels.items()):
            total += value
    return total


async def count_incidents(client: httpx.AsyncClient) -> int | None:
    response = await client.get("/console/api/incidents", params={"status": "all", "limit": 1000})
    if response.status_code != 200:
        return None
    return len(response.json())


@dataclass
class Settled:
    posts: float
    updates: float
    incidents: float
    waited: float
    lag: float
    caught_up: bool


async def wait_for_notifier(
    client: httpx.AsyncClient, before: dict[str, float], *, within: float, stable_for: float
) -> Settled:
    """Poll /metrics until posts == incidents and posts/updates stop changing (bounded)."""
    started = time.perf_counter()
    last: tuple[float, float, float] | None = None
    changed_at = started
    settled = Settled(0, 0, 0, 0, 0, caught_up=False)
    while True:
        now = time.perf_counter()
        samples = await scrape(client)
        posts = metric(samples, "lookout_chat_posts_total", platform="console") - metric(
            before, "lookout_chat_posts_total", platform="console"
        )
        updates = metric(samples, "lookout_chat_updates_total", platform="console") - metric(
            before, "lookout_chat_updates_total", platform="console"
        )
        incidents = metric(samples, "lookout_incidents_created_total") - metric(
            before, "lookout_incidents_created_total"
        )
        current = (posts, updates, incidents)
        if current != last:
            last, changed_at = current, now
        settled = Settled(
            posts, updates, incidents, now - started, changed_at - started, caught_up=False
        )
        if posts == incidents and now - changed_at >= stable_for:
            settled.caught_up = True
            return settled
        if now - started >= within:
            return settled
        await asyncio.sleep(0.2)


# --------------------------------------------------------------------------- the server


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def catalog_config(args: argparse.Namespace, path: Path) -> None:
    """A LOOKOUT_CONFIG whose catalog holds the storm's services, each depending on one to
    three services before it (a layered graph, as real catalogs are)."""
    generator = Generator(
        seed=args.seed, services=args.services, now=datetime.now(UTC), platform_share=0
    )
    rng = random.Random(args.seed + 1)
    lines = ["services:"]
    names = [service.name for service in generator.services]
    for index, name in enumerate(names):
        below = names[:index]
        depends = rng.sample(below, min(len(below), rng.randint(1, 3))) if below else []
        lines.append(f"  - {{name: {json.dumps(name)}, depends_on: {json.dumps(depends)}}}")
    path.write_text("\n".join(lines) + "\n")


def start_server(
    data_dir: Path, token: str, port: int, config: Path | None = None
) -> tuple[subprocess.Popen[bytes], Path]:
    env = {k: v for k, v in os.environ.items() if k not in ("LOOKOUT_DATABASE_URL",)}
    env |= {"LOOKOUT_DATA_DIR": str(data_dir), "LOOKOUT_WEBHOOK_TOKEN": token}
    env.pop("LOOKOUT_CONFIG", None)
    if config is not None:
        env["LOOKOUT_CONFIG"] = str(config)
    log_path = data_dir / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "bot", "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    return process, log_path


def stop_server(process: subprocess.Popen[bytes]) -> str:
    """SIGTERM, wait, SIGKILL on timeout; says how it ended."""
    if process.poll() is not None:
        return f"had already exited with code {process.returncode}"
    process.terminate()
    try:
        code = process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)
        return "did not stop within 15 s of SIGTERM and was killed"
    # uvicorn shuts down gracefully on SIGTERM, then re-raises the signal it caught.
    return "stopped on SIGTERM" if code in (0, -signal.SIGTERM) else f"exited with code {code}"


def tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def memory_kib(pid: int | None) -> dict[str, int]:
    """VmRSS / VmHWM of a local process (Linux); empty when unknown."""
    if pid is None:
        return {}
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return {}
    found = re.findall(r"^(VmRSS|VmHWM):\s+(\d+) kB", text, re.MULTILINE)
    return {name: int(value) for name, value in found}


async def wait_until_up(
    client: httpx.AsyncClient, process: subprocess.Popen[bytes] | None, within: float
) -> str | None:
    """None when /healthz answers 200 (and /readyz, if present, says ready); else why not."""
    deadline = time.perf_counter() + within
    why = "timed out"
    while time.perf_counter() < deadline:
        if process is not None and process.poll() is not None:
            return f"server exited with code {process.returncode}"
        try:
            health = await client.get("/healthz")
            if health.status_code == 200:
                ready = await client.get("/readyz")
                if ready.status_code in (200, 404):
                    return None
                why = f"/readyz answered {ready.status_code}: {ready.text[:200]}"
            else:
                why = f"/healthz answered {health.status_code}"
        except httpx.HTTPError as error:
            why = f"{type(error).__name__}: {error}"
        await asyncio.sleep(0.1)
    return why


# --------------------------------------------------------------------------- the run


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


async def bench(
    args: argparse.Namespace,
    url: str,
    token: str | None,
    process: subprocess.Popen[bytes] | None,
    log_path: Path | None = None,
) -> int:
    pid = None if process is None else process.pid
    now = datetime.now(UTC)
    generated = time.perf_counter()
    generator = Generator(
        seed=args.seed, services=args.services, now=now, platform_share=args.platform_share
    )
    storm = generator.storm(alerts=args.alerts, batch=args.batch)
    generated = time.perf_counter() - generated
    sent = sum(b.alerts for b in storm.batches)
    body_kib = sum(len(b.body) for b in storm.batches) / 1024
    limits = httpx.Limits(
        max_connections=args.concurrency + 2, max_keepalive_connections=args.concurrency + 2
    )
    async with httpx.AsyncClient(base_url=url, timeout=args.timeout, limits=limits) as client:
        why = await wait_until_up(client, process, args.startup_timeout)
        if why is not None:
            print(f"lookout did not come up at {url}: {why}", file=sys.stderr)
            return 2
        memory_idle = memory_kib(pid)
        # Warm the connection pool so neither phase pays for connecting.
        await asyncio.gather(*(client.get("/healthz") for _ in range(args.concurrency)))

        baseline = await run_phase(
            client,
            storm.batches,
            concurrency=args.concurrency,
            token=token,
            prefix=b"#",
            expect=400,
        )
        before = await scrape(client)
        incidents_before = await count_incidents(client)
        ingest = await run_phase(
            client, storm.batches, concurrency=args.concurrency, token=token, prefix=b"", expect=200
        )
        after_ingest = await scrape(client)
        settled = await wait_for_notifier(
            client, before, within=args.settle_timeout, stable_for=args.stable_for
        )
        after = await scrape(client)
        incidents_after = await count_incidents(client)
        memory_after = memory_kib(pid)

    # ----------------------------------------------------------------- the report
    lat = [s * 1000 for s in ingest.latencies]
    base = [s * 1000 for s in baseline.latencies]
    rate = sent / ingest.wall if ingest.wall else math.nan
    totals = Counter[str]()
    created: list[str] = []
    for response in ingest.responses:
        for key in ("received", "new", "updated", "unchanged"):
            totals[key] += int(response.get(key, 0))
        created += response.get("incidents_created", [])
    incidents = settled.incidents
    listed = (
        incidents_after - incidents_before
        if incidents_after is not None and incidents_before is not None
        else None
    )
    errors = metric(after, "lookout_errors_total") - metric(before, "lookout_errors_total")
    server_count = metric(
        after_ingest, "lookout_webhook_duration_seconds_count", source="alertmanager"
    ) - metric(before, "lookout_webhook_duration_seconds_count", source="alertmanager")
    server_sum = metric(
        after_ingest, "lookout_webhook_duration_seconds_sum", source="alertmanager"
    ) - metric(before, "lookout_webhook_duration_seconds_sum", source="alertmanager")
    p50, p99 = percentile(lat, 0.5), percentile(lat, 0.99)
    b50, b99 = percentile(base, 0.5), percentile(base, 0.99)
    mean, bmean = (sum(lat) / len(lat), sum(base) / len(base)) if lat and base else (0.0, 0.0)
    ingest_ok = not ingest.failures and len(ingest.responses) == len(storm.batches)

    print()
    print("Lookout ingest benchmark")
    print(f"  target              {url} (SQLite{'' if pid else ', external server'})")
    print(
        f"  storm               seed {args.seed}, {sent} alerts in {len(storm.batches)} "
        f"batches of <= {args.batch}, concurrency {args.concurrency}; scenario "
        f"{args.scenario}; {'a catalog of the services' if args.catalog else 'no catalog'}"
    )
    print(
        f"  mix                 {storm.new} new ({storm.refires} re-fires), "
        f"{storm.repeats} re-deliveries ({storm.repeats / sent:.1%}), "
        f"{storm.resolves} resolves ({storm.resolves / sent:.1%})"
    )
    print(
        f"  labels              {storm.services_in_labels} services, {storm.group_keys} "
        f"Alertmanager groups, startsAt over the last {STORM_SPAN}"
    )
    print(f"  bodies              {body_kib:,.0f} KiB in total, generated in {generated:.2f} s")
    print()
    print("Baseline (same bodies, same connections, 400 before JSON decoding)")
    print(f"  wall time           {baseline.wall:.3f} s")
    print(f"  latency per batch   p50 {b50:.1f} ms   p99 {b99:.1f} ms   mean {bmean:.1f} ms")
    if baseline.failures:
        print(f"  unexpected answers  {len(baseline.failures)} (ratio below is not meaningful)")
        for failure in baseline.failures[:5]:
            print(f"    {failure}")
    print()
    print("Ingest")
    print(f"  wall time           {ingest.wall:.3f} s")
    print(f"  throughput          {rate:,.0f} alerts/s   {len(lat) / ingest.wall:.1f} batches/s")
    print(
        f"  latency per batch   p50 {p50:.1f} ms   p95 {percentile(lat, 0.95):.1f} ms   "
        f"p99 {p99:.1f} ms   max {max(lat, default=math.nan):.1f} ms"
    )
    quarters = [
        [ms * 1000 for index, ms in ingest.by_batch.items() if index * 4 // len(storm.batches) == q]
        for q in range(4)
    ]
    print(
        "  p50 by quarter      "
        + "   ".join(f"{percentile(q, 0.5):.0f}" for q in quarters)
        + " ms (does the cost grow as the database and incidents grow?)"
    )
    slowest = sorted(ingest.by_batch.items(), key=lambda item: -item[1])[:5]
    print(
        "  slowest batches     "
        + ", ".join(f"#{index} {seconds * 1000:.0f} ms" for index, seconds in slowest)
        + f" (of #0–#{len(storm.batches) - 1}, in sending order)"
    )
    if server_count:
        print(f"  server-side mean    {server_sum / server_count * 1000:.1f} ms per batch")
    print(
        f"  vs baseline         p50 {p50 / b50:.1f}x   mean {mean / bmean:.1f}x   "
        f"wall {ingest.wall / baseline.wall:.1f}x"
        if b50 and bmean and baseline.wall
        else "  vs baseline         n/a"
    )
    print(f"  HTTP statuses       {dict(sorted(ingest.statuses.items()))}")
    if ingest.failures:
        print(f"  FAILED requests     {len(ingest.failures)}")
        for failure in ingest.failures[:10]:
            print(f"    {failure}")
    expected = {
        "received": sent,
        "new": storm.new,
        "updated": storm.resolves,
        "unchanged": storm.repeats,
    }
    matches = all(totals[key] == value for key, value in expected.items())
    print(
        f"  server accounting   received {totals['received']}, new {totals['new']}, "
        f"updated {totals['updated']}, unchanged {totals['unchanged']} "
        f"({'matches the generator' if matches else f'generator expected {expected}'})"
    )
    print()
    print("Incidents and chat")
    listed_note = f", console lists {listed}" if listed is not None else ""
    print(f"  incidents created   {incidents:.0f} (responses {len(created)}{listed_note})")
    if incidents:
        print(
            f"  alerts per incident {sent / incidents:.1f} sent, {storm.new / incidents:.1f} "
            f"distinct   noise reduction {1 - incidents / sent:.1%}"
        )
    print(f"  chat posts          {settled.posts:.0f}")
    print(
        f"  chat updates        {settled.updates:.0f} "
        f"({settled.updates / max(incidents, 1):.1f} per incident, "
        f"{settled.posts + settled.updates:.0f} messages for "
        f"{totals['new'] + totals['updated']} alert changes)"
    )
    print(
        f"  notifier            {'caught up' if settled.caught_up else 'NOT caught up'} "
        f"{settled.lag:.1f} s after the last webhook (watched {settled.waited:.1f} s)"
    )
    if errors:
        print(f"  lookout_errors      {errors:.0f} (see the server log)")
    if (errors or not settled.caught_up) and log_path is not None:
        trouble = [
            line
            for line in tail(log_path, 2000).splitlines()
            if re.search(r'"level": "(error|critical)"|Traceback|Error', line)
        ]
        print("  server log, errors (last 5):")
        for line in trouble[-5:]:
            print(f"    {line[:400]}")
    idle, peak = memory_idle.get("VmRSS", 0), memory_after.get("VmHWM", 0)
    if idle and peak:
        print(
            f"  server memory       RSS {idle / 1024:.0f} MiB idle, peak {peak / 1024:.0f} MiB "
            f"({peak / idle:.2f}x idle)"
        )
    print()
    print("Targets")
    print(f"  {verdict(rate >= TARGET_ALERTS_PER_S)}  throughput >= 2,000 alerts/s ({rate:,.0f})")
    print(f"  {verdict(p99 < TARGET_P99_MS)}  p99 < 250 ms per batch ({p99:.1f} ms)")
    posts_ok = settled.caught_up and settled.posts == incidents and incidents > 0
    print(
        f"  {verdict(posts_ok)}  chat posts == incidents "
        f"({'yes' if settled.posts == incidents else 'no'}: "
        f"{settled.posts:.0f} posts, {incidents:.0f} incidents)"
    )
    print()
    return 0 if ingest_ok else 1


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--alerts", type=int, default=10_000, help="alerts to send")
    parser.add_argument("--batch", type=int, default=100, help="alerts per webhook")
    parser.add_argument("--services", type=int, default=200, help="distinct services")
    parser.add_argument("--concurrency", type=int, default=8, help="webhooks in flight")
    parser.add_argument(
        "--scenario",
        choices=("storm", "one-incident"),
        default="storm",
        help="storm: many groups over --services services; one-incident: every body is one "
        "service's group, so one incident grows to thousands of alerts",
    )
    parser.add_argument(
        "--catalog",
        action="store_true",
        help="give Lookout a catalog of the services with dependencies (topology grouping)",
    )
    parser.add_argument("--seed", type=int, default=20_240_601, help="generator seed")
    parser.add_argument(
        "--platform-share",
        type=float,
        default=PLATFORM_SHARE,
        help="share of bodies that are platform-wide (alertname, cluster) groups",
    )
    parser.add_argument("--url", help="a running Lookout (default: start one on SQLite)")
    parser.add_argument("--token", help="webhook token for --url (default: $LOOKOUT_WEBHOOK_TOKEN)")
    parser.add_argument("--timeout", type=float, default=30.0, help="per request, seconds")
    parser.add_argument("--startup-timeout", type=float, default=60.0, help="seconds")
    parser.add_argument("--settle-timeout", type=float, default=60.0, help="notifier, seconds")
    parser.add_argument("--stable-for", type=float, default=2.0, help="notifier quiet, seconds")
    parser.add_argument("--keep", action="store_true", help="keep the data dir and server log")
    args = parser.parse_args(argv)
    if args.scenario == "one-incident":
        args.services, args.platform_share = 1, 0.0
    if min(args.alerts, args.batch, args.services, args.concurrency) < 1:
        parser.error("--alerts, --batch, --services and --concurrency must be positive")
    if args.url and not args.url.startswith(("http://127.", "http://localhost", "http://[::1]")):
        parser.error("--url must be a loopback address")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.url:
        token = args.token or os.environ.get("LOOKOUT_WEBHOOK_TOKEN")
        return asyncio.run(bench(args, args.url.rstrip("/"), token, None))
    data_dir = Path(tempfile.mkdtemp(prefix="lookout-bench-"))
    token = secrets.token_urlsafe(24)
    port = free_port()
    config = None
    if args.catalog:
        config = data_dir / "catalog.yaml"
        catalog_config(args, config)
    process, log_path = start_server(data_dir, token, port, config)
    print(f"started lookout (pid {process.pid}) on 127.0.0.1:{port}, data in {data_dir}")
    code = 2
    try:
        code = asyncio.run(bench(args, f"http://127.0.0.1:{port}", token, process, log_path))
    except KeyboardInterrupt:
        code = 130
    finally:
        ended = stop_server(process)
        if code != 0:
            print(f"server log ({log_path}):\n{tail(log_path)}", file=sys.stderr)
        print(f"lookout {ended}")
        if not args.keep:
            shutil.rmtree(data_dir, ignore_errors=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
