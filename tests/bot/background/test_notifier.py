"""The notifier: one post per incident per platform, updates in place, retries, restarts."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.background.ingest import AlertIngestor
from bot.background.notifier import COLLECT_BATCH, Notifier
from bot.metrics import Metrics
from bot.platforms import PostedMessage
from core.alerts import Alert, fingerprint
from skills.contract import Reply
from storage.database import Database
from tests.conftest import database_url_for

T0 = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)


@dataclass
class RecordingPlatform:
    """Speaks the ChatPlatform protocol and remembers every call; can be told to fail."""

    name: str = "recording"
    fail_next: int = 0
    calls: list[tuple[str, str, str]] = field(default_factory=list)
    messages: dict[str, str] = field(default_factory=dict)

    def _maybe_fail(self) -> None:
        if self.fail_next:
            self.fail_next -= 1
            raise ConnectionError("chat API unavailable (HTTP 503)")

    async def post(self, *, channel: str, reply: Reply, intent: str | None = None) -> PostedMessage:
        self._maybe_fail()
        message_id = f"msg-{len(self.messages) + 1}"
        self.messages[message_id] = reply.plain_text
        self.calls.append(("post", channel, message_id))
        return PostedMessage(message_id=message_id, thread_id=message_id)

    async def update(self, *, channel: str, message_id: str, reply: Reply) -> None:
        self._maybe_fail()
        self.messages[message_id] = reply.plain_text
        self.calls.append(("update", channel, message_id))

    async def find_posted(
        self, *, channel: str, intent: str, since: datetime
    ) -> PostedMessage | None:
        return None

    async def post_in_thread(self, *, channel: str, thread_id: str, reply: Reply) -> PostedMessage:
        raise NotImplementedError


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def alert(name: str, service: str, minutes: int = 0) -> Alert:
    labels = {"alertname": name, "service": service, "severity": "critical"}
    return Alert(
        fingerprint=fingerprint(labels),
        status="firing",
        starts_at=T0 + timedelta(minutes=minutes),
        ends_at=None,
        labels=labels,
    )


@pytest.fixture
async def database(tmp_path: Path) -> Database:
    db = Database(database_url_for(tmp_path))
    await db.upgrade()
    return db


def notifier(database: Database, *platforms: RecordingPlatform, clock: Clock) -> Notifier:
    routes = {"payments": "#payments"}
    return Notifier(
        database,
        list(platforms),
        channel_for=lambda _platform, service, _project: routes.get(service or "", "#incidents"),
        metrics=Metrics(),
        clock=clock,
    )


async def test_one_post_per_incident_then_updates_in_place(database: Database) -> None:
    clock = Clock()
    ingestor = AlertIngestor(database, clock=clock)
    slack, teams = RecordingPlatform("slack"), RecordingPlatform("teams")
    worker = notifier(database, slack, teams, clock=clock)
    await ingestor.ingest([alert("A", "checkout"), alert("B", "payments", 1)])
    assert await worker.flush() == 4
    assert sorted(c[:2] for c in slack.calls) == [("post", "#incidents"), ("post", "#payments")]
    for minute in range(2, 12):  # ten changes before the next pass: one update
        await ingestor.ingest([alert(f"A{minute}", "checkout", minute)])
    assert await worker.flush() == 2
    assert [c[0] for c in slack.calls] == ["post", "post", "update"]
    assert "11 (11 firing)" in slack.messages["msg-1"]
    assert await worker.flush() == 0  # nothing behind, nothing sent


async def test_failed_posts_are_retried_with_backoff_and_never_duplicated(
    database: Database,
) -> None:
    clock = Clock()
    slack = RecordingPlatform("slack", fail_next=2)
    worker = notifier(database, slack, clock=clock)
    await AlertIngestor(database, clock=clock).ingest([alert("A", "checkout")])
    assert await worker.flush() == 0
    assert await worker.flush() == 0  # backing off: not due yet
    clock.now += timedelta(seconds=3)
    assert await worker.flush() == 0  # second failure
    clock.now += timedelta(seconds=5)
    assert await worker.flush() == 1
    assert [c[0] for c in slack.calls] == ["post"]
    async with database.unit_of_work() as uow:
        row = await uow.threads.get(incident_id=1, platform="slack")
    assert row is not None and row.message_id == "msg-1" and row.last_error is None


async def test_a_restarted_notifier_updates_the_stored_message(database: Database) -> None:
    clock = Clock()
    ingestor = AlertIngestor(database, clock=clock)
    slack = RecordingPlatform("slack")
    await ingestor.ingest([alert("A", "checkout")])
    await notifier(database, slack, clock=clock).flush()
    await ingestor.ingest([alert("B", "checkout", 1)])
    await notifier(database, slack, clock=clock).flush()  # a new process, same database
    assert [c[0] for c in slack.calls] == ["post", "update"]
    assert slack.calls[1][2] == "msg-1"


async def test_a_storm_is_posted_in_one_pass_a_batch_at_a_time_past_failing_ones(
    database: Database,
) -> None:
    clock = Clock()
    slack = RecordingPlatform("slack", fail_next=1)
    worker = notifier(database, slack, clock=clock)
    storm = [alert("Down", f"svc-{n}", minutes=n * 40) for n in range(2 * COLLECT_BATCH + 5)]
    await AlertIngestor(database, clock=clock).ingest(storm)
    # The first post fails and backs off; every other incident is still posted in this pass.
    assert await worker.flush() == len(storm) - 1
    assert await worker.flush() == 0  # the failed one is not due yet
    clock.now += timedelta(seconds=10)
    assert await worker.flush() == 1
    assert len([call for call in slack.calls if call[0] == "post"]) == len(storm)
