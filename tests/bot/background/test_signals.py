"""Lookout's own signals through ingestion: an alert that keeps firing keeps its start, one
that stops resolves, one whose subject went unjudged is left alone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.background.ingest import AlertIngestor
from bot.background.signals import SLO_RECEIVER, Evaluation, Signal, send
from core.alerts import Alert
from storage.database import Database
from tests.conftest import database_url_for

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def page(slo: str) -> Signal:
    labels = {
        "alertname": "HighErrorRate",
        "service": "checkout",
        "sloth_service": "checkout",
        "sloth_slo": slo,
        "sloth_severity": "page",
        "severity": "critical",
    }
    return Signal(labels, {"summary": f"{slo} burning"}, group_key=f"slo:checkout/{slo}")


def subject(labels: dict[str, str]) -> str:
    return f"{labels['sloth_service']}/{labels['sloth_slo']}"


async def test_signals_fire_keep_their_start_and_resolve(tmp_path: Path) -> None:
    database = Database(database_url_for(tmp_path))
    await database.upgrade()
    ingestor = AlertIngestor(database, clock=lambda: T0)

    async def accept(alerts: list[Alert]) -> None:
        await ingestor.ingest(alerts)

    async def evaluate(signals: list[Signal], judged: set[str], at: datetime) -> list[Alert]:
        return await send(
            database,
            accept,
            receiver=SLO_RECEIVER,
            subject_of=subject,
            evaluation=Evaluation(signals, judged),
            now=at,
        )

    both = {"checkout/availability", "checkout/latency"}
    first = await evaluate([page("availability"), page("latency")], both, T0)
    assert {a.starts_at for a in first} == {T0} and all(a.firing for a in first)
    later = T0 + timedelta(minutes=1)
    again = await evaluate([page("availability"), page("latency")], both, later)
    assert {a.starts_at for a in again} == {T0}  # the same alerts: nothing new to store
    async with database.unit_of_work() as uow:
        incidents = await uow.incidents.find()
        assert len(incidents) == 1 and incidents[0].severity == "critical"
        assert len(await uow.alerts.for_incident(incident_id=incidents[0].id)) == 2
    # Latency went unanswered this time: its alert stays; availability stopped burning.
    end = T0 + timedelta(minutes=2)
    last = await evaluate([], {"checkout/availability"}, end)
    assert [(a.labels["sloth_slo"], a.status, a.ends_at) for a in last] == [
        ("availability", "resolved", end)
    ]
    async with database.unit_of_work() as uow:
        firing = await uow.alerts.firing_from(receiver=SLO_RECEIVER)
    assert [a.labels["sloth_slo"] for a in firing] == ["latency"]
    await evaluate([], both, end)
    async with database.unit_of_work() as uow:
        assert await uow.alerts.firing_from(receiver=SLO_RECEIVER) == []
        (incident,) = await uow.incidents.find(status="all")
        assert incident.status == "resolved"
    await database.dispose()
