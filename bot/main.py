"""The composition root: settings → database → repositories → skills → adapters → app."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import DBAPIError
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from bot import __version__
from bot.background.blast_trackers import BlastTrackerWatcher
from bot.background.changes import ChangeRecorder, ChangeResult
from bot.background.context_posts import ContextPoster
from bot.background.escalations import EscalationEngine
from bot.background.ingest import AlertIngestor, DeliveryAudit, IngestResult
from bot.background.intake import AlertIntake
from bot.background.knowledge import AnswerWriter, KnowledgeWorker
from bot.background.notifier import Notifier
from bot.background.policies import PolicyEngine
from bot.background.runs import RunManager
from bot.background.scheduler import Scheduler
from bot.config import ConfigError, LookoutConfig, load_config
from bot.console.access import NONE_WARNING, ConsoleAccess, ConsoleGate
from bot.console.api import STATIC, console_routes
from bot.console.platform import ConsoleHub, ConsolePlatform
from bot.http import database_unavailable_handler, machine_routes
from bot.knowledge_setup import build_knowledge
from bot.metrics import Metrics
from bot.pagerduty_routes import pagerduty_routes
from bot.paging_setup import build_escalation, paging_tools, sla_schedule
from bot.platforms import ChatAdapter
from bot.runbook_setup import runbook_catalog, runbook_executor
from bot.schedule_setup import build_scheduling
from bot.service_catalog import ServiceCatalog
from bot.settings import Settings
from bot.startup import listen
from core.alerts import Alert
from core.changes import ChangeEvent
from integrations.dependency_health import DependencyHealthReader
from integrations.evidence import LogEvidenceReader, MetricEvidenceReader
from integrations.loki import LokiClient
from integrations.prometheus import PrometheusClient
from integrations.service_health import PrometheusHealth
from knowledge.service import Knowledge
from runbooks.catalog import RunbookCatalog
from runbooks.sync import SyncReport
from skills.catalog import default_registry
from skills.context import SkillTools
from skills.contract import Reply
from skills.dispatcher import AccessPolicy, Dispatcher, Outcome
from skills.registry import Registry
from skills.views.incident_paging import paging_facts
from storage.database import Database

log = logging.getLogger(__name__)


@dataclass
class Lookout:
    """Everything the process is made of, assembled once."""

    settings: Settings
    config: LookoutConfig
    database: Database
    metrics: Metrics
    registry: Registry
    dispatcher: Dispatcher
    ingestor: AlertIngestor
    intake: AlertIntake
    hub: ConsoleHub
    console: ConsolePlatform
    notifier: Notifier
    http: httpx.AsyncClient
    runs: RunManager
    runbooks: RunbookCatalog
    service_catalog: ServiceCatalog  # the service topology
    trackers: BlastTrackerWatcher  # live blast-radius messages on incidents
    changes: ChangeRecorder  # change events, and the open incidents they explain
    adapters: list[ChatAdapter] = field(default_factory=list)
    announced_sync_problems: list[str] = field(default_factory=list)
    # Notices to admins wait until the server listens: a process that never served says nothing.
    serving: bool = False
    held_notices: list[Reply] = field(default_factory=list)
    background: set[asyncio.Task[None]] = field(default_factory=set)
    # Retrieval: the index, its sync and "Seen before?", the LLM's answers (None: disabled).
    knowledge: Knowledge | None = None
    knowledge_worker: KnowledgeWorker | None = None
    answer_writer: AnswerWriter | None = None
    scheduler: Scheduler | None = None  # reports, SLO burn rates, capacity, checks
    escalation: EscalationEngine | None = None  # timers, pages and SLA clocks
    context_poster: ContextPoster | None = None  # new incidents' context, posted unasked
    policies: PolicyEngine | None = None  # the projects' policy rules (None: no rules)

    async def accept(
        self,
        alerts: list[Alert],
        *,
        truncated_alerts: int = 0,
        audit: DeliveryAudit | None = None,
    ) -> IngestResult:
        """Ingest alerts (committed when this returns, with the delivery's audit entry when
        `audit` records one) and let the notifier know; `truncated_alerts` is how many the
        sender said it left out."""
        result = await self.intake.submit(alerts, truncated_alerts=truncated_alerts, audit=audit)
        self.metrics.alerts_received.labels("new").inc(result.new_alerts)
        self.metrics.alerts_received.labels("updated").inc(result.updated_alerts)
        self.metrics.alerts_received.labels("unchanged").inc(result.unchanged_alerts)
        self.metrics.incidents_created.inc(len(result.created_incidents))
        if result.changed_incidents:
            self.incidents_changed()
        return result

    async def accept_change(self, event: ChangeEvent) -> ChangeResult:
        """Record a change event (committed when this returns); re-render what it moved."""
        result = await self.changes.record(event)
        if result.changed_incidents:
            self.incidents_changed()
        return result

    async def runbooks_synced(self, report: SyncReport) -> None:
        """A sync of the team's runbook repository: log it; tell admins what was rejected;
        audit a sync that changed the runbooks or their problems."""
        log.info("runbooks synced", extra={"summary": report.summary()})
        rejected = [str(problem) for problem in report.rejected[:10]]
        problems = [f"pull failed: {report.error}", *rejected] if report.error else rejected
        if report.changed or problems != self.announced_sync_problems:
            await self.audit_system(
                "runbooks.sync",
                "error" if report.error else "rejected" if rejected else "ok",
                {
                    "version": report.version,
                    "loaded": len(report.loaded),
                    "kept": list(report.kept),
                    "removed": list(report.removed),
                    "problems": problems,
                },
                target=report.version[:12] if report.version else None,
            )
        # Say it once per distinct set of problems, not at every sync while they last.
        if problems and problems != self.announced_sync_problems:
            self.announced_sync_problems = problems
            log.warning("runbook sync problems", extra={"problems": problems})
            # The summary already names a failed pull; the list is the rejected files.
            reply = Reply.text(
                "⚠️ **Runbook sync**: "
                + report.summary()
                + "".join(f"\n• `{problem}`" for problem in rejected),
                visibility="channel",
            )
            await self.notify_admins(reply)

    async def audit_system(
        self, action: str, outcome: str, detail: dict[str, Any], *, target: str | None = None
    ) -> None:
        """An audit entry of Lookout's own (platform `system`, user `lookout`) in a unit of
        work of its own. Never raises: a failure to audit is logged."""
        try:
            async with self.database.unit_of_work() as uow:
                await uow.audit.record(
                    at=datetime.now(UTC),
                    platform="system",
                    user_id="lookout",
                    user_name="Lookout",
                    action=action,
                    outcome=outcome,
                    target=target,
                    detail=detail,
                )
        except Exception:
            log.exception("could not write the audit log", extra={"action": action})

    async def config_loaded(self) -> None:
        """Audit the configuration this process started with: its file and digest, and
        what it sets up."""
        path = self.settings.config
        digest = None
        if path is not None:
            with contextlib.suppress(OSError):
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
        retention = self.config.retention
        await self.audit_system(
            "config.load",
            "ok",
            {
                "path": str(path) if path else None,
                "sha256": digest,
                "version": __version__,
                "projects": [project.name for project in self.config.projects],
                "services": len(self.config.services),
                "schedules": len(self.config.schedules),
                "retention": retention.model_dump() if retention.enabled else None,
            },
            target=path.name if path else None,
        )

    async def notify_admins(self, reply: Reply) -> None:
        """Post a notice to the admin channel of every platform, or hold it until `serve_ready`
        when the server does not listen yet."""
        if not self.serving:
            self.held_notices.append(reply)
            return
        await self.notifier.announce(reply, channel_for=self.config.admin_channel_for)

    async def serve_ready(self) -> None:
        """The server listens: post the notices held until now."""
        self.serving = True
        held, self.held_notices = self.held_notices, []
        for reply in held:
            await self.notify_admins(reply)

    def incidents_changed(self) -> None:
        self.notifier.wake()
        if self.escalation is not None:
            self.escalation.wake()
        self.trackers.wake()
        if self.knowledge_worker is not None:
            self.knowledge_worker.wake()
        if self.context_poster is not None:
            self.context_poster.wake()
        if self.policies is not None:
            self.policies.wake()
        self.hub.publish("incidents", {})

    async def refresh_gauges(self) -> None:
        async with self.database.unit_of_work() as uow:
            self.metrics.incidents_open.set(await uow.incidents.count_open())


def build(settings: Settings, *, demo: bool = False) -> Lookout:
    if settings.config is None and demo:
        from bot.demo import demo_config

        config = demo_config(settings.data_dir)
    else:
        config = load_config(settings.config)
    database = Database(settings.resolved_database_url(), pool=settings.database_pool())
    metrics = Metrics()
    database.on_connect(metrics.database_connections_opened.inc)
    hub = ConsoleHub()
    console = ConsolePlatform(database, hub)
    registry = default_registry()
    lookout: Lookout

    async def finished(outcome: Outcome) -> None:
        metrics.skill_seconds.labels(outcome.skill, outcome.result).observe(outcome.seconds)
        if outcome.result == "error":
            metrics.errors.labels(where="skill").inc()
        if outcome.changed_incidents:
            lookout.incidents_changed()
        for run_id in outcome.runs_to_start:
            lookout.runs.launch(run_id)
        if outcome.messages_changed:
            lookout.notifier.wake()
        if outcome.answers_requested and lookout.answer_writer is not None:
            lookout.answer_writer.wake()

    http = httpx.AsyncClient(timeout=30, follow_redirects=False)
    catalog = runbook_catalog(config)
    executor = runbook_executor(settings, config, http)
    runs = RunManager(database, executor, catalog, on_change=lambda: lookout.incidents_changed())
    # Service topology: read by ingestion and skills through `current`.
    try:
        service_catalog = ServiceCatalog.from_config(
            config, config_path=settings.config, prometheus_url=settings.prometheus_url
        )
    except ValueError as error:
        raise ConfigError(f"{settings.config}: invalid service catalog: {error}") from error
    health = service_health(settings, config, http)
    knowledge = build_knowledge(settings, config, database, catalog)
    config.schedules.extend(sla_schedule(config))
    paging = paging_tools(settings, config, http)
    scheduling = build_scheduling(
        settings,
        config,
        http,
        database,
        run_command=lambda text, actor, conversation: lookout.dispatcher.run(
            text, actor=actor, conversation=conversation
        ),
        accept=lambda alerts: lookout.accept(alerts),
        on_report=lambda: lookout.notifier.wake(),
    )
    projects = config.project_map()
    policies = config.policy_map()
    tools = SkillTools(
        runbooks=catalog,
        planner=executor,
        health=health,
        metrics=metric_evidence(settings, config, http),
        logs=log_evidence(settings, config, http),
        dependencies=dependency_health(settings, config, http),
        knowledge=knowledge,
        slo=scheduling.slo,
        capacity=scheduling.capacity,
        schedules=scheduling.scheduler,
        oncall=paging.directory,
        escalation=config.escalation,
        sla=config.sla,
        silences=paging.silences,
        projects=projects,
        service_labels=tuple(config.grouping.service_labels),
        policies=policies,
    )
    dispatcher = Dispatcher(
        registry=registry,
        database=database,
        access=AccessPolicy(
            default_role=config.access.role(),
            admins=frozenset(config.access.admins),
            trusted_teams=frozenset(config.access.trusted_teams),
            bots=frozenset(config.access.bots),
        ),
        on_finished=finished,
        tools=tools,
        topology=service_catalog.current,
        projects=lambda: projects,
    )
    adapters = _chat_adapters(
        settings, config, dispatcher, database, metrics, wake=lambda: lookout.notifier.wake()
    )
    platforms = [console, *(adapter.platform for adapter in adapters)]
    notifier = Notifier(
        database,
        platforms,
        channel_for=config.channel_for,
        metrics=metrics,
        admin_channel_for=config.admin_channel_for,
        paging=lambda uow, incidents, now: paging_facts(
            uow.escalations, incidents, config.sla, now
        ),
    )
    ingestor = AlertIngestor(
        database,
        rules=config.grouping,
        topology=service_catalog.current,
        projects=lambda: projects,
    )
    trackers = BlastTrackerWatcher(
        database,
        topology=service_catalog.current,
        health=health,
        on_change=notifier.wake,
        metrics=metrics,
    )
    lookout = Lookout(
        settings=settings,
        config=config,
        database=database,
        metrics=metrics,
        registry=registry,
        dispatcher=dispatcher,
        ingestor=ingestor,
        intake=AlertIntake(ingestor),
        hub=hub,
        console=console,
        notifier=notifier,
        adapters=adapters,
        http=http,
        runs=runs,
        runbooks=catalog,
        service_catalog=service_catalog,
        trackers=trackers,
        changes=ChangeRecorder(
            database, topology=service_catalog.current, projects=lambda: projects
        ),
        knowledge=knowledge,
        scheduler=scheduling.scheduler,
    )

    def paging_changed() -> None:
        notifier.wake()
        hub.publish("incidents", {})

    lookout.escalation = build_escalation(
        settings,
        config,
        http,
        database,
        directory=paging.directory,
        platforms=platforms,
        channel_for=config.channel_for,
        topology=service_catalog.current,
        metrics=metrics,
        on_change=paging_changed,
    )
    if knowledge is not None:
        lookout.knowledge_worker = KnowledgeWorker(
            database,
            knowledge,
            on_change=notifier.wake,
            metrics=metrics,
            interval=config.knowledge.sync_seconds,
            per_project=projects.configured,
        )
        if knowledge.llm is not None:
            lookout.answer_writer = AnswerWriter(
                database, knowledge, on_change=notifier.wake, metrics=metrics
            )
    if config.context_posts.enabled:
        lookout.context_poster = ContextPoster(
            database,
            tools,
            topology=service_catalog.current,
            rules=config.context_posts,
            on_change=notifier.wake,
            metrics=metrics,
        )
    if policies:
        lookout.policies = PolicyEngine(
            database, policies, on_change=lookout.incidents_changed, metrics=metrics
        )
    return lookout


def service_health(
    settings: Settings, config: LookoutConfig, http: httpx.AsyncClient
) -> PrometheusHealth | None:
    """Service health from Prometheus, when PROMETHEUS_URL is set and `health:` is on."""
    rules = config.health
    if not settings.prometheus_url or not rules.active:
        return None
    client = PrometheusClient(settings.prometheus_url, http, timeout=rules.timeout_seconds)
    return PrometheusHealth(client, rules)


def metric_evidence(
    settings: Settings, config: LookoutConfig, http: httpx.AsyncClient
) -> MetricEvidenceReader | None:
    """Golden signals and service-graph health from Prometheus, when PROMETHEUS_URL is set."""
    if not settings.prometheus_url:
        return None
    rules = config.signals
    client = PrometheusClient(settings.prometheus_url, http, timeout=rules.timeout_seconds)
    return MetricEvidenceReader(client, rules)


def dependency_health(
    settings: Settings, config: LookoutConfig, http: httpx.AsyncClient
) -> DependencyHealthReader | None:
    """Each call's health from service-graph metrics, when PROMETHEUS_URL is set."""
    rules = config.dependency_health
    if not settings.prometheus_url or not rules.enabled:
        return None
    client = PrometheusClient(settings.prometheus_url, http, timeout=rules.timeout_seconds)
    return DependencyHealthReader(client, rules)


def log_evidence(
    settings: Settings, config: LookoutConfig, http: httpx.AsyncClient
) -> LogEvidenceReader | None:
    """Error-log patterns from Loki, when LOKI_URL is set."""
    if not settings.loki_url:
        return None
    client = LokiClient(settings.loki_url, http, timeout=config.logs.timeout_seconds)
    return LogEvidenceReader(client, config.logs)


def _chat_adapters(
    settings: Settings,
    config: LookoutConfig,
    dispatcher: Dispatcher,
    database: Database,
    metrics: Metrics,
    *,
    wake: Callable[[], None],
) -> list[ChatAdapter]:
    """Slack and Teams join when their credentials are set; the console is always there.
    `wake`: the notifier's, for adapters that learn held-back messages may go out now."""
    adapters: list[ChatAdapter] = []
    if settings.slack_enabled:
        from bot.slack.adapter import SlackAdapter

        if settings.slack_channel:
            config.routing.platforms.setdefault("slack", settings.slack_channel)
        adapters.append(
            SlackAdapter.from_settings(
                settings, dispatcher=dispatcher, database=database, metrics=metrics, on_change=wake
            )
        )
    if settings.teams_enabled:
        from bot.teams.adapter import TeamsAdapter

        adapters.append(
            TeamsAdapter.from_settings(
                settings, dispatcher=dispatcher, database=database, metrics=metrics, on_change=wake
            )
        )
    return adapters


def create_app(lookout: Lookout, *, demo: bool = False) -> FastAPI:
    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await lookout.database.upgrade()
        await lookout.config_loaded()
        await lookout.runs.recover()
        lookout.runs.start()  # replicas: take over runs a stopped replica left
        stop_sync = asyncio.Event()
        sync = lookout.runbooks.sync
        if sync is not None:
            # The first sync before serving, so `run` knows the team's runbooks from the start.
            await lookout.runbooks_synced(await sync.sync())
            task = asyncio.create_task(
                sync.sync_forever(
                    lookout.config.runbooks.sync_minutes * 60, lookout.runbooks_synced, stop_sync
                ),
                name="lookout-runbook-sync",
            )
            lookout.background.add(task)
            task.add_done_callback(lookout.background.discard)
        if lookout.settings.console_auth == "none":
            log.warning(NONE_WARNING)
        if lookout.settings.webhook_token is None:
            log.warning("LOOKOUT_WEBHOOK_TOKEN is not set: only loopback clients may post alerts")
        for adapter in lookout.adapters:
            await adapter.start()
        lookout.notifier.start()
        lookout.trackers.start()
        lookout.service_catalog.start()
        if lookout.knowledge is not None:
            await _load_index(lookout.knowledge)
        if lookout.answer_writer is not None:
            await lookout.answer_writer.recover()
        for worker in (
            lookout.knowledge_worker,
            lookout.answer_writer,
            lookout.context_poster,
            lookout.policies,
        ):
            if worker is not None:
                worker.start()
        lookout.notifier.wake()
        if lookout.scheduler is not None:
            await lookout.scheduler.start()
        if lookout.escalation is not None:
            lookout.escalation.start()
            lookout.escalation.wake()
        if demo:
            from bot.demo import run_demo

            task = asyncio.create_task(run_demo(lookout), name="lookout-demo")
            lookout.background.add(task)
            task.add_done_callback(lookout.background.discard)
        log.info("lookout started", extra={"version": __version__, "demo": demo})
        try:
            yield
        finally:
            stop_sync.set()
            background = list(lookout.background)
            for task in background:
                task.cancel()
            # Let them finish cancelling before the database they may be using goes away.
            await asyncio.gather(*background, return_exceptions=True)
            lookout.hub.close()
            if lookout.scheduler is not None:
                await lookout.scheduler.stop()
            if lookout.escalation is not None:
                await lookout.escalation.stop()
            await lookout.runs.stop()
            await lookout.trackers.stop()
            await lookout.notifier.stop()
            await lookout.service_catalog.stop()
            for worker in (
                lookout.knowledge_worker,
                lookout.answer_writer,
                lookout.context_poster,
                lookout.policies,
            ):
                if worker is not None:
                    await worker.stop()
            if lookout.knowledge is not None and lookout.knowledge.llm is not None:
                await lookout.knowledge.llm.close()
            for adapter in lookout.adapters:
                await adapter.stop()
            await lookout.http.aclose()
            await lookout.database.dispose()

    app = FastAPI(
        title="Lookout",
        version=__version__,
        description="ChatOps-first SRE assistant",
        lifespan=lifespan,
    )
    # A database that cannot serve is a 503 with Retry-After on every route, not a 500.
    for kind in (DBAPIError, OSError):
        app.add_exception_handler(kind, database_unavailable_handler)
    app.include_router(machine_routes(lookout))
    app.include_router(console_routes(lookout))
    app.include_router(pagerduty_routes(lookout))
    for adapter in lookout.adapters:
        app.include_router(adapter.routes())
    app.mount("/console/static", StaticFiles(directory=STATIC), name="console-static")
    # Proxy headers rewrite the client for the webhooks' loopback rule, as uvicorn would; the
    # console's gate runs first (outermost), on the TCP peer.
    app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=["127.0.0.1", "::1"])
    app.add_middleware(ConsoleGate, access=ConsoleAccess.from_settings(lookout.settings))
    return app


async def _load_index(knowledge: Knowledge, *, seconds: float = 10.0) -> None:
    """Read what the index holds before serving, so the first answers have it; a slow or
    absent Chroma server does not hold the start (the knowledge worker loads it later)."""
    try:
        async with asyncio.timeout(seconds):
            await knowledge.index.load()
    except Exception as error:
        log.warning("the knowledge index is not loaded yet", extra={"error": str(error)})


class LookoutServer(uvicorn.Server):
    """uvicorn's server that binds its port before the application starts (a port in use
    fails before anything is posted anywhere) and is `started` once it listens and has posted
    the notices the start held back."""

    def __init__(self, config: uvicorn.Config, lookout: Lookout) -> None:
        super().__init__(config)
        self.lookout = lookout

    async def serve(self, sockets: list[socket.socket] | None = None) -> None:
        """Serve on `sockets`, or on sockets bound now to the configured host and port
        (OSError when they cannot be)."""
        if sockets is None:
            sockets = listen(self.config.host, self.config.port)
        await super().serve(sockets=sockets)

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        """uvicorn's startup, then the held notices; `started` turns true after both."""
        await super().startup(sockets=sockets)
        if self.started:
            self.started = False
            try:
                await self.lookout.serve_ready()
            finally:
                self.started = True


def http_server(settings: Settings, *, demo: bool = False) -> tuple[Lookout, LookoutServer]:
    """The assembled process behind uvicorn, as `lookout serve` runs it (and tests do)."""
    lookout = build(settings, demo=demo)
    config = uvicorn.Config(
        create_app(lookout, demo=demo),
        host=settings.host,
        port=settings.port,
        log_config=None,
        # Open console streams would otherwise hold a shutdown forever.
        timeout_graceful_shutdown=3,
        # The application reads proxy headers itself (create_app), after the console's gate.
        proxy_headers=False,
    )
    return lookout, LookoutServer(config, lookout)
