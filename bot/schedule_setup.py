"""Assembling the scheduler's parts from settings and config: the SLO and capacity readers
(skills use them too), the Prometheus checks, the reports, and the scheduler itself."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import httpx

from bot.background.scheduled_work import Accept, RunCommand, ScheduledWork
from bot.background.scheduler import Scheduler
from bot.config import ConfigError, LookoutConfig
from bot.schedule_config import load_slos
from bot.settings import Settings
from integrations.capacity import CapacityReader
from integrations.checks import CheckRunner
from integrations.prometheus import PrometheusClient
from integrations.slo import SloReader
from storage.database import Database

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Scheduling:
    slo: SloReader | None
    capacity: CapacityReader | None
    work: ScheduledWork
    scheduler: Scheduler


def build_scheduling(
    settings: Settings,
    config: LookoutConfig,
    http: httpx.AsyncClient,
    database: Database,
    *,
    run_command: RunCommand,
    accept: Accept,
    on_report: Callable[[], None],
) -> Scheduling:
    try:
        slos = load_slos(config.slo, config_path=settings.config)
    except ValueError as error:
        raise ConfigError(str(error)) from error
    wants_prometheus = bool(slos or config.capacity.resources or config.checks)
    client = None
    if settings.prometheus_url:
        client = PrometheusClient(settings.prometheus_url, http, timeout=config.slo.timeout_seconds)
    elif wants_prometheus:
        log.warning("SLOs, capacity resources and checks need PROMETHEUS_URL; they are off")
    slo = capacity = checks = None
    if client is not None:
        if slos:
            slo = SloReader(
                client, slos, window=timedelta(days=config.slo.window_days), guard=config.slo.guard
            )
        if config.capacity.resources:
            capacity = CapacityReader(client, config.capacity)
        if config.checks:
            checks = CheckRunner(client)
    work = ScheduledWork(
        database=database,
        run_command=run_command,
        accept=accept,
        on_report=on_report,
        reports={entry.job_id: entry for entry in config.schedules},
        slo=slo,
        capacity=capacity,
        checks=checks,
        check_rules={check.name: check for check in config.checks} if checks else {},
        slo_minutes=config.slo.evaluate_minutes,
        retention=config.retention,
    )
    return Scheduling(slo, capacity, work, Scheduler(database, work.specs(), work))
