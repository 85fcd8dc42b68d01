"""A fake adapter driving the real dispatcher and skills on a real SQLite file."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.background.ingest import AlertIngestor
from core.alerts import Alert, fingerprint
from skills.catalog import default_registry
from skills.contract import Actor, Conversation, Reply, Role
from skills.dispatcher import AccessPolicy, Dispatcher, Outcome
from storage.database import Database
from tests.conftest import database_url_for

NOW = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


def make_alert(
    name: str, service: str, severity: str = "critical", minutes: float = 0, **labels: str
) -> Alert:
    all_labels = {"alertname": name, "service": service, "severity": severity, **labels}
    return Alert(
        fingerprint=fingerprint(all_labels),
        status="firing",
        starts_at=NOW - timedelta(minutes=10) + timedelta(minutes=minutes),
        ends_at=None,
        labels=all_labels,
        annotations={"summary": f"{name} on {service}"},
    )


@dataclass
class Harness:
    database: Database
    dispatcher: Dispatcher
    ingestor: AlertIngestor
    clock: Clock
    outcomes: list[Outcome] = field(default_factory=list)

    async def say(
        self,
        text: str,
        *,
        user: str = "alice",
        channel: str = "#incidents",
        incident_id: int | None = None,
    ) -> Reply:
        actor = Actor(platform="test", user_id=user, display_name=user)
        conversation = Conversation(platform="test", channel=channel, incident_id=incident_id)
        return await self.dispatcher.run(text, actor=actor, conversation=conversation)

    async def set_role(self, user: str, role: Role) -> None:
        await self.say("help", user=user)  # creates the user with the default role
        async with self.database.unit_of_work() as uow:
            await uow.users.set_role(platform="test", platform_user_id=user, role=role.label)


def text_of(reply: Reply) -> str:
    return reply.plain_text


def make_harness(database: Database) -> Harness:
    clock = Clock()
    outcomes: list[Outcome] = []

    async def finished(outcome: Outcome) -> None:
        outcomes.append(outcome)

    dispatcher = Dispatcher(
        registry=default_registry(),
        database=database,
        access=AccessPolicy(default_role=Role.RESPONDER, admins=frozenset({"root"})),
        clock=clock,
        on_finished=finished,
    )
    return Harness(database, dispatcher, AlertIngestor(database, clock=clock), clock, outcomes)


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    """The harness on a SQLite file."""
    database = Database(database_url_for(tmp_path))
    await database.upgrade()
    yield make_harness(database)
    await database.dispose()


@pytest.fixture
def both_harness(database: Database) -> Harness:
    """The harness on SQLite and, when it answers, PostgreSQL."""
    return make_harness(database)
