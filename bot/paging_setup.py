"""Assembling escalation and paging from settings and config: on-call schedules, the
channels (chat platforms, PagerDuty, webhooks, email), the outbox sender and the pass."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx

from bot.background.escalations import EscalationEngine
from bot.background.page_channels import PageChannels
from bot.background.pages import PageSender
from bot.background.recipients import RecipientResolver
from bot.config import ConfigError, LookoutConfig
from bot.metrics import Metrics
from bot.platforms import ChatPlatform
from bot.schedule_config import ScheduleEntry
from bot.settings import Settings
from core.notify_rules import missing_schedules
from core.topology import Topology
from integrations.alertmanager import SilenceClient
from integrations.email import EmailSender, SmtpSettings
from integrations.oncall import OncallDirectory
from integrations.outbound_webhooks import WebhookSender
from integrations.pagerduty import PagerDutyEvents
from storage.database import Database

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PagingTools:
    """What skills use: the on-call schedules and Alertmanager's silences."""

    directory: OncallDirectory
    silences: SilenceClient | None


def paging_tools(settings: Settings, config: LookoutConfig, http: httpx.AsyncClient) -> PagingTools:
    base = settings.config.parent if settings.config is not None else None
    directory = OncallDirectory(config.oncall, http=http, base=base)
    silences = SilenceClient(settings.alertmanager_url, http) if settings.alertmanager_url else None
    return PagingTools(directory, silences)


def sla_schedule(config: LookoutConfig) -> list[ScheduleEntry]:
    """The monthly `sla report`, when `sla.report` names a channel."""
    report = config.sla.report
    if report is None:
        return []
    return [
        ScheduleEntry(
            skill="sla report", channel=report.channel, cron=report.cron, timezone=report.timezone
        )
    ]


def build_escalation(
    settings: Settings,
    config: LookoutConfig,
    http: httpx.AsyncClient,
    database: Database,
    *,
    directory: OncallDirectory,
    platforms: Sequence[ChatPlatform],
    channel_for: Callable[[str, str | None, str], str],
    topology: Callable[[], Topology],
    metrics: Metrics,
    on_change: Callable[[], None],
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> EscalationEngine:
    """The escalation pass and its outbox, over every chat platform and machine channel."""
    targets = [str(target) for target in config.escalation.targets]
    for target in missing_schedules(targets, set(config.oncall.schedules)):
        log.warning(
            "an escalation target names an on-call schedule that is not configured; its "
            "pages fail and the next level is notified",
            extra={"target": target},
        )
    pagerduty: dict[str, PagerDutyEvents] = {}
    url = settings.pagerduty_events_url
    if settings.pagerduty_routing_key is not None:
        key = settings.pagerduty_routing_key.get_secret_value()
        pagerduty[""] = PagerDutyEvents(http, routing_key=key, url=url)
    for name, key in config.notify.pagerduty.routing_keys.items():
        pagerduty[name] = PagerDutyEvents(http, routing_key=key, url=url)
    if any(t.startswith("pagerduty") for t in targets) and not pagerduty:
        log.warning("escalation pages PagerDuty but PAGERDUTY_ROUTING_KEY is not set")
    email = None
    if settings.smtp_url is not None:
        try:
            email = EmailSender(SmtpSettings.from_url(settings.smtp_url.get_secret_value()))
        except ValueError as error:
            raise ConfigError(str(error)) from error
    channels = PageChannels(
        platforms=platforms,
        channel_for=channel_for,
        pagerduty=pagerduty,
        webhooks=config.notify.webhooks,
        webhook_sender=WebhookSender(http),
        email=email,
        mention_in_thread=config.notify.mention_in_thread,
    )
    resolver = RecipientResolver(
        config.notify,
        directory,
        chat_platforms=[platform.name for platform in platforms],
        pagerduty=list(pagerduty),
        email=email is not None,
    )
    sender = PageSender(database, channels, retry=config.escalation.retry, metrics=metrics)
    return EscalationEngine(
        database,
        rules=config.escalation,
        sla=config.sla,
        recipients=resolver,
        sender=sender,
        topology=topology,
        metrics=metrics,
        on_change=on_change,
        clock=clock,
    )
