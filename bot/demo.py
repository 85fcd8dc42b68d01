"""The demo: a small catalog, some history, and an alert storm replayed as it would arrive.

The storm's alerts are modelled on the public Alertmanager payloads in shared/fixtures
(prometheus-msteams' `high_memory_load` on docker nodes, alertmonitor's `ICMP ping failed`
from blackbox-icmp, prom2teams' `CPUThrottlingHigh`), plus a database outage with its
symptoms upstream — the kind of night an on-call engineer recognises.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from bot.config import (
    KnowledgeConfig,
    LookoutConfig,
    RoutingConfig,
    RunbooksConfig,
    ServiceConfig,
)
from bot.demo_history import POSTMORTEMS, seed_past
from bot.schedule_config import ScheduleEntry
from core.alerts import fingerprint, parse_webhook
from core.oncall import OncallConfig, Rotation, ScheduleConfig
from core.sla import SlaRules, SlaTarget
from runbooks.config import ExecutionConfig

if TYPE_CHECKING:
    from bot.main import Lookout

log = logging.getLogger(__name__)

ZERO_TIME = "0001-01-01T00:00:00Z"
# The demo's runbook and the program it runs (a simulated Patroni cluster), shipped in the
# package for `lookout serve --demo` only: nothing else puts them on an allowlist.
DEMO_ASSETS = Path(__file__).parent / "demo_assets"
DEMO_PROGRAMS = ("lookout-demo-patroni",)


def install_demo_programs(data_dir: Path) -> tuple[Path, list[str]]:
    """Copy the demo's programs into `data_dir/demo/bin`, started by this Python (whatever
    the file modes an installed package kept); returns the folder they run in and their
    paths, the demo's whole allowlist."""
    work = data_dir / "demo"
    bin_dir = work / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    installed = []
    for name in DEMO_PROGRAMS:
        source = (DEMO_ASSETS / name).read_text(encoding="utf-8")
        body = source.split("\n", 1)[1] if source.startswith("#!") else source
        target = bin_dir / name
        target.write_text(f"#!{sys.executable}\n{body}", encoding="utf-8")
        target.chmod(0o755)
        installed.append(str(target))
    return work, installed


def demo_config(data_dir: Path) -> LookoutConfig:
    """The demo's catalog and routing, and its runbook with the demo program (installed under
    `data_dir` now) as the whole allowlist."""
    work, programs = install_demo_programs(data_dir)
    execution = ExecutionConfig(
        executables=programs, working_directory=work, default_timeout_seconds=30
    )
    services = [
        ServiceConfig(
            name="postgres-primary", team="data", tier=1, channel="#incidents", type="postgresql"
        ),
        ServiceConfig(
            name="checkout", team="payments", tier=1, depends_on=["postgres-primary", "payments"]
        ),
        ServiceConfig(name="payments", team="payments", tier=1, depends_on=["postgres-primary"]),
        ServiceConfig(name="docker_nodes", team="platform", tier=2, channel="#platform"),
        ServiceConfig(name="blackbox-icmp", team="network", tier=2, channel="#platform"),
        ServiceConfig(name="monitoring", team="platform", tier=3, channel="#platform"),
    ]
    # The weekly incident report on Monday mornings (`schedules` lists it).
    weekly = ScheduleEntry(skill="stats report", channel="#incidents", cron="0 9 * * 1")
    # Who is on call (`oncall`), and response targets whose deadlines the cards show (`sla`).
    oncall = OncallConfig(
        schedules={
            "payments": ScheduleConfig(
                timezone="Europe/Berlin",
                rotation=Rotation(
                    users=["alice", "bob", "sam"],
                    shift=timedelta(weeks=1),
                    handoff="mon 09:00",
                    start=date(2026, 1, 5),
                ),
            ),
            "data": ScheduleConfig(
                rotation=Rotation(
                    users=["priya", "sam"], shift=timedelta(days=1), start=date(2026, 1, 5)
                )
            ),
        }
    )
    sla = SlaRules(
        targets=[
            SlaTarget(severity="critical", mtta=timedelta(minutes=5), mttr=timedelta(hours=4)),
            SlaTarget(severity="error", mtta=timedelta(minutes=15), mttr=timedelta(hours=8)),
        ]
    )
    return LookoutConfig(
        services=services,
        routing=RoutingConfig(default_channel="#incidents"),
        knowledge=KnowledgeConfig(postmortems=POSTMORTEMS),
        schedules=[weekly],
        runbooks=RunbooksConfig(folders=[DEMO_ASSETS], execution=execution),
        oncall=oncall,
        sla=sla,
    )


def _alert(
    labels: dict[str, str],
    annotations: dict[str, str],
    starts_at: datetime,
    *,
    status: str = "firing",
    ends_at: datetime | None = None,
    expression: str | None = None,
) -> dict[str, Any]:
    # Prometheus links an alert to its rule's query: /graph?g0.expr=<PromQL>&g0.tab=1.
    generator = "http://prometheus.demo:9090/graph"
    if expression:
        generator += f"?g0.expr={quote(expression, safe='')}&g0.tab=1"
    return {
        "status": status,
        "labels": labels,
        "annotations": annotations,
        "startsAt": starts_at.isoformat().replace("+00:00", "Z"),
        "endsAt": ends_at.isoformat().replace("+00:00", "Z") if ends_at else ZERO_TIME,
        "generatorURL": generator,
        "fingerprint": fingerprint(labels),
    }


def _payload(
    group_key: str, alerts: list[dict[str, Any]], status: str = "firing"
) -> dict[str, Any]:
    return {
        "version": "4",
        "groupKey": group_key,
        "status": status,
        "receiver": "lookout",
        "groupLabels": {},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager.demo:9093",
        "alerts": alerts,
    }


def storm(now: datetime) -> list[tuple[float, dict[str, Any]]]:
    """(delay in seconds before sending, webhook body) in the order Alertmanager would send."""
    t0 = now - timedelta(minutes=3)
    db = {"service": "postgres-primary", "cluster": "prod-eu1", "job": "postgres"}
    steps: list[tuple[float, dict[str, Any]]] = [
        (
            0.5,
            _payload(
                '{}:{service="postgres-primary"}',
                [
                    _alert(
                        {
                            **db,
                            "alertname": "PostgresDown",
                            "severity": "critical",
                            "instance": "pg-0:9187",
                        },
                        {
                            "summary": "PostgreSQL primary is not answering",
                            "description": "pg_up == 0 on pg-0 for 1 minute",
                            "runbook_url": "https://runbooks.demo/postgres-down",
                        },
                        t0,
                        expression="pg_up == 0",
                    ),
                    _alert(
                        {
                            **db,
                            "alertname": "PostgresConnectionsExhausted",
                            "severity": "critical",
                            "instance": "pg-0:9187",
                        },
                        {"summary": "Connection slots exhausted (max_connections=200)"},
                        t0 + timedelta(seconds=12),
                    ),
                ],
            ),
        ),
    ]
    for offset, (service, name, summary, severity) in enumerate(
        [
            ("checkout", "HighErrorRate", "5xx ratio 23% on POST /checkout", "critical"),
            (
                "payments",
                "TransactionFailures",
                "Payment transactions failing: db timeout",
                "error",
            ),
            ("checkout", "LatencyP99High", "p99 latency 4.2 s (SLO 800 ms)", "warning"),
            ("payments", "QueueBacklog", "Settlement queue backlog 12k messages", "warning"),
        ]
    ):
        steps.append(
            (
                1.5,
                _payload(
                    f'{{}}:{{service="{service}"}}',
                    [
                        _alert(
                            {
                                "alertname": name,
                                "service": service,
                                "severity": severity,
                                "cluster": "prod-eu1",
                                "namespace": service,
                            },
                            {"summary": summary},
                            t0 + timedelta(seconds=30 + 15 * offset),
                        )
                    ],
                ),
            )
        )
    memory_nodes = [f"10.80.40.{n}" for n in range(11, 23)]
    steps.append(
        (
            1.5,
            _payload(
                '{}:{alertname="high_memory_load"}',
                [
                    _alert(
                        {
                            "alertname": "high_memory_load",
                            "instance": ip,
                            "job": "docker_nodes",
                            "monitor": "master",
                            "severity": "warning",
                        },
                        {
                            "summary": "Server High Memory usage",
                            "description": f"{ip} reported high memory usage with {70 + i}.28%.",
                        },
                        t0 + timedelta(seconds=60 + i),
                    )
                    for i, ip in enumerate(memory_nodes)
                ],
            ),
        )
    )
    icmp_key = '{}/{severity=~"^(critical|major)$"}:{alertname="ICMP ping failed"}'
    targets = ["172.29.254.30", "172.29.254.50", "172.29.254.66"]

    def icmp(ip: str, **kwargs: Any) -> dict[str, Any]:
        return _alert(
            {
                "alertname": "ICMP ping failed",
                "instance": ip,
                "job": "blackbox-icmp",
                "monitor": "monis",
                "severity": "major",
            },
            {"description": f"{ip} does not reply to ICMP pings"},
            t0 + timedelta(seconds=90),
            **kwargs,
        )

    steps.append((1.5, _payload(icmp_key, [icmp(ip) for ip in targets])))
    steps.append(
        (
            1.0,
            _payload(
                '{}/{}:{alertname="CPUThrottlingHigh"}',
                [
                    _alert(
                        {
                            "alertname": "CPUThrottlingHigh",
                            "container_name": "config-reloader",
                            "namespace": "monitoring",
                            "severity": "warning",
                            "pod_name": "alertmanager-main-0",
                        },
                        {
                            "message": "27% throttling of CPU in namespace monitoring for "
                            "container config-reloader in pod alertmanager-main-0.",
                            "summary": "CPU throttling",
                        },
                        t0 + timedelta(seconds=100),
                    )
                ],
            ),
        )
    )
    # A re-delivery (Alertmanager repeats) changes nothing; then the pings recover.
    steps.append((1.0, steps[0][1]))
    ended = now
    steps.append(
        (
            4.0,
            _payload(
                icmp_key,
                [icmp(ip, status="resolved", ends_at=ended) for ip in targets],
                status="resolved",
            ),
        )
    )
    return steps


async def seed_history(lookout: Lookout) -> None:
    """The past incidents of `bot.demo_history`, unless the database already has incidents."""
    now = datetime.now(UTC)
    async with lookout.database.unit_of_work() as uow:
        if await uow.incidents.find(status="all", limit=1):
            return
        await seed_past(uow, now)


async def wait_for_index(lookout: Lookout, *, seconds: float = 60.0) -> None:
    """Let the index take in the history first, so the storm can be "seen before"."""
    worker = lookout.knowledge_worker
    if worker is None:
        return
    worker.caught_up.clear()
    worker.wake()
    try:
        async with asyncio.timeout(seconds):
            await worker.caught_up.wait()
    except TimeoutError:
        log.warning("the knowledge index is still catching up; the demo goes on")


async def run_demo(lookout: Lookout) -> None:
    """Seed history, then replay the storm through the same path as the webhook."""
    try:
        await seed_history(lookout)
        await wait_for_index(lookout)
        for delay, body in storm(datetime.now(UTC)):
            await asyncio.sleep(delay)
            result = await lookout.accept(parse_webhook(body))
            log.info(
                "demo delivery",
                extra={
                    "new_alerts": result.new_alerts,
                    "incidents_created": result.created_incidents,
                },
            )
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("the demo failed; Lookout keeps running")
