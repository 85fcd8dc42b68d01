"""Alert times an SRE would not believe, over real HTTP: a startsAt far in the future is the
receive time (said in the answer and in the incident's timeline), a time before 1970 is
unset, and an empty alertname is no alertname."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from core.alerts import parse_delivery
from tests.conftest import RunningServer


def body(labels: dict[str, str], starts_at: str, ends_at: str | None = None) -> dict[str, Any]:
    alert: dict[str, Any] = {"labels": labels, "startsAt": starts_at}
    if ends_at is not None:
        alert["endsAt"] = ends_at
    return {"version": "4", "status": "firing", "receiver": "lookout", "alerts": [alert]}


async def test_a_future_start_is_the_receive_time_with_a_timeline_line(
    server: RunningServer,
) -> None:
    before = datetime.now(UTC)
    labels = {"alertname": "ClockAhead", "service": "checkout"}
    async with server.client() as client:
        response = await client.post(
            "/webhooks/alertmanager", json=body(labels, "2099-12-01T00:00:00Z")
        )
    assert response.status_code == 200, response.text
    [adjusted] = response.json()["adjusted"]
    assert adjusted["index"] == 0
    assert adjusted["reason"].startswith("alerts.0.startsAt: 2099-12-01T00:00:00+00:00 is in")
    async with server.lookout.database.unit_of_work() as uow:
        found = await uow.incidents.get(incident_id=1)
        timeline = await uow.incidents.events(incident_id=1)
    assert found is not None
    opened = found.opened_at.replace(tzinfo=found.opened_at.tzinfo or UTC)
    assert before - timedelta(seconds=1) <= opened <= datetime.now(UTC)
    [line] = [event for event in timeline if event.kind == "alert_time"]
    assert line.text.startswith("An alert said it started at 2099-12-01 00:00:00 UTC, in the")
    # Alertmanager sends the group again and again with the same time: the same alert.
    async with server.client() as client:
        again = await client.post(
            "/webhooks/alertmanager", json=body(labels, "2099-12-01T00:00:00Z")
        )
    assert again.status_code == 200, again.text
    async with server.lookout.database.unit_of_work() as uow:
        second = await uow.incidents.get(incident_id=2)
        stored = await uow.alerts.for_incident(incident_id=1)
        timeline = await uow.incidents.events(incident_id=1)
    assert second is None
    assert len(stored) == 1
    assert [event.kind for event in timeline].count("alert_time") == 1  # said once


async def test_times_before_1970_are_unset(server: RunningServer) -> None:
    now = datetime.now(UTC).isoformat()
    labels = {"alertname": "Ancient", "service": "checkout"}
    async with server.client() as client:
        ancient = await client.post(
            "/webhooks/alertmanager", json=body(labels, "0001-01-02T00:00:00Z")
        )
        zero_end = await client.post(
            "/webhooks/alertmanager", json=body(labels, now, "0001-01-02T00:00:00Z")
        )
    assert ancient.status_code == 422
    assert "startsAt must be a real time" in ancient.json()["detail"]
    assert zero_end.status_code == 200, zero_end.text
    async with server.lookout.database.unit_of_work() as uow:
        rows = await uow.alerts.for_incident(incident_id=1)
    assert [row.ends_at for row in rows] == [None]


async def test_an_empty_alertname_is_a_missing_one(server: RunningServer) -> None:
    now = datetime.now(UTC).isoformat()
    async with server.client() as client:
        empty = await client.post("/webhooks/alertmanager", json=body({"alertname": ""}, now))
        none = await client.post("/webhooks/alertmanager", json=body({}, now))
    assert empty.status_code == none.status_code == 422
    assert empty.json()["detail"] == none.json()["detail"]
    assert "at least one label with a value" in empty.json()["detail"]
    delivery = parse_delivery(body({"alertname": "", "service": "api"}, now))
    assert delivery.alerts[0].labels == {"service": "api"}
    assert delivery.alerts[0].name == "unnamed alert"


def test_a_resolved_alert_does_not_end_in_the_future() -> None:
    received = datetime(2026, 5, 1, 12, tzinfo=UTC)
    document = body({"alertname": "A"}, "2026-05-01T11:00:00Z", "2099-01-01T00:00:00Z")
    document["alerts"][0]["status"] = "resolved"
    [alert] = parse_delivery(document, now=received).alerts
    assert alert.ends_at == received
    skewed = parse_delivery(body({"alertname": "A"}, "2026-05-01T12:04:00Z"), now=received)
    assert skewed.adjusted == [] and skewed.alerts[0].starts_at.minute == 4
