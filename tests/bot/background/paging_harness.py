"""A Lookout without HTTP for escalation tests: a real database, the ingestor, the
dispatcher (acks, snoozes typed as in chat), the escalation pass with a clock the test
moves, and a chat platform that records direct messages, mentions and posts."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import yaml
from pydantic import SecretStr

from bot.background.escalations import EscalationEngine
from bot.background.ingest import AlertIngestor
from bot.config import LookoutConfig
from bot.metrics import Metrics
from bot.paging_setup import build_escalation, paging_tools
from bot.platforms import ChatPlatform, PostedMessage
from bot.settings import Settings
from core.alerts import Alert, fingerprint
from core.sla import SlaRules
from core.topology import Topology
from skills.catalog import default_registry
from skills.context import SkillTools
from skills.contract import Actor, Conversation, Reply
from skills.dispatcher import AccessPolicy, Dispatcher
from skills.views.incident_card import card_facts, incident_message
from skills.views.incident_paging import paging_facts
from storage.database import Database
from storage.models import EscalationRow, PageRow

T0 = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)  # a Monday, 03:00 UTC


class Clock:
    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **span: float) -> None:
        self.now += timedelta(**span)


@dataclass
class RecordingChat:
    """A chat platform that keeps every call: ("dm", user, text), ("mention", user, …)."""

    name: str = "slack"
    calls: list[tuple[str, str, str]] = field(default_factory=list)
    fail_next: int = 0

    def _count(self, kind: str, where: str, reply: Reply) -> PostedMessage:
        if self.fail_next:
            self.fail_next -= 1
            raise ConnectionError("chat API unavailable (HTTP 503)")
        self.calls.append((kind, where, reply.plain_text))
        number = str(len(self.calls))
        return PostedMessage(message_id=number, thread_id=number, channel=where)

    async def post(self, *, channel: str, reply: Reply, intent: str | None = None) -> PostedMessage:
        return self._count("post", channel, reply)

    async def update(self, *, channel: str, message_id: str, reply: Reply) -> None:
        self._count("update", f"{channel}/{message_id}", reply)

    async def post_in_thread(self, *, channel: str, thread_id: str, reply: Reply) -> PostedMessage:
        return self._count("thread", channel, reply)

    async def find_posted(
        self, *, channel: str, intent: str, since: datetime
    ) -> PostedMessage | None:
        return None

    async def direct_message(self, *, user: str, reply: Reply) -> PostedMessage:
        return self._count("dm", user, reply)

    async def mention(
        self, *, channel: str, thread_id: str | None, user: str, name: str, reply: Reply
    ) -> PostedMessage:
        return self._count("mention", user, reply)

    def of(self, kind: str) -> list[tuple[str, str, str]]:
        return [call for call in self.calls if call[0] == kind]


@dataclass
class Paging:
    database: Database
    clock: Clock
    engine: EscalationEngine
    ingestor: AlertIngestor
    dispatcher: Dispatcher
    chat: RecordingChat
    http: httpx.AsyncClient
    sla: SlaRules

    async def fire(
        self, name: str, service: str, severity: str = "critical", **labels: str
    ) -> None:
        tags = {"alertname": name, "service": service, "severity": severity, **labels}
        alert = Alert(
            fingerprint=fingerprint(tags),
            status="firing",
            starts_at=self.clock.now,
            ends_at=None,
            labels=tags,
            annotations={"summary": f"{name} on {service}"},
            generator_url="http://prometheus.internal/graph?g0.expr=up",
        )
        await self.ingestor.ingest([alert])

    async def say(self, text: str, who: str = "Ana") -> Reply:
        actor = Actor(platform="slack", user_id=f"U{who.upper()}", display_name=who)
        return await self.dispatcher.run(
            text, actor=actor, conversation=Conversation(platform="slack", channel="#incidents")
        )

    async def step(self, **span: float) -> None:
        self.clock.advance(**span)
        await self.engine.run_once()

    async def pages(self, **where: Any) -> list[PageRow]:
        async with self.database.unit_of_work() as uow:
            rows = await uow.pages.of_episode(
                incident_id=where.pop("incident", 1), episode=where.pop("episode", 1)
            )
        return [row for row in rows if all(getattr(row, k) == v for k, v in where.items())]

    async def timeline(self, incident: int = 1) -> list[str]:
        async with self.database.unit_of_work() as uow:
            return [event.text for event in await uow.incidents.events(incident_id=incident)]

    async def card_reply(self, incident: int = 1) -> tuple[Reply, int]:
        """The incident's message as the notifier would render it now, and the incident's
        revision (the notifier redraws the message when it changes)."""
        async with self.database.unit_of_work() as uow:
            row = await uow.incidents.get(incident_id=incident)
            assert row is not None
            facts = await card_facts(uow.alerts, [incident])
            lines = await paging_facts(uow.escalations, [row], self.sla, self.clock.now)
            reply = incident_message(row, facts[incident], self.clock.now, lines.get(incident))
            return reply, row.revision

    async def card(self, incident: int = 1) -> str:
        """The incident's message as the notifier would render it now (plain text)."""
        return (await self.card_reply(incident))[0].plain_text

    async def escalation(self, incident: int = 1, episode: int = 1) -> EscalationRow:
        async with self.database.unit_of_work() as uow:
            row = await uow.escalations.of_episode(incident_id=incident, episode=episode)
        assert row is not None
        return row

    async def close(self) -> None:
        await self.http.aclose()


def config_of(text: str) -> LookoutConfig:
    return LookoutConfig.model_validate(yaml.safe_load(text))


async def paging(
    database: Database,
    config_text: str,
    *,
    clock: Clock | None = None,
    pagerduty_url: str | None = None,
    smtp_url: str | None = None,
    alertmanager_url: str | None = None,
    chat: RecordingChat | None = None,
    platform: ChatPlatform | None = None,
    topology: Topology | None = None,
) -> Paging:
    """A Lookout over `database` configured by `config_text`; pages to chat go to `chat`
    (a recording), or to `platform` (a real platform's client) when given; `topology` says
    which team owns which service."""
    clock = clock or Clock()
    config = config_of(config_text)
    settings = Settings(
        pagerduty_routing_key=SecretStr("R" * 32) if pagerduty_url else None,
        pagerduty_events_url=pagerduty_url,
        smtp_url=SecretStr(smtp_url) if smtp_url else None,
        alertmanager_url=alertmanager_url,
    )
    http = httpx.AsyncClient(timeout=10)
    tools = paging_tools(settings, config, http)
    chat = chat or RecordingChat()
    engine = build_escalation(
        settings,
        config,
        http,
        database,
        directory=tools.directory,
        platforms=[platform or chat],
        channel_for=config.channel_for,
        topology=lambda: topology or Topology(),
        metrics=Metrics(),
        on_change=lambda: None,
        clock=clock,
    )
    dispatcher = Dispatcher(
        registry=default_registry(),
        database=database,
        access=AccessPolicy(),
        clock=clock,
        tools=SkillTools(
            oncall=tools.directory,
            escalation=config.escalation,
            sla=config.sla,
            silences=tools.silences,
        ),
    )
    ingestor = AlertIngestor(database, clock=clock)
    return Paging(database, clock, engine, ingestor, dispatcher, chat, http, config.sla)
