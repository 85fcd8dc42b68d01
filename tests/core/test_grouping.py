from __future__ import annotations

from datetime import UTC, datetime, timedelta

from lookout.core.alerts import Alert, fingerprint
from lookout.core.grouping import IncidentSnapshot, match_alert

T0 = datetime(2026, 11, 1, 3, 0, tzinfo=UTC)


def alert(name: str, minutes: float = 0, group_key: str | None = None, **labels: str) -> Alert:
    all_labels = {"alertname": name, **labels}
    return Alert(
        fingerprint=fingerprint(all_labels),
        status="firing",
        starts_at=T0 + timedelta(minutes=minutes),
        ends_at=None,
        labels=all_labels,
        group_key=group_key,
    )


def test_no_open_incident_means_a_new_one() -> None:
    assert match_alert(alert("HighErrorRate", service="checkout"), []).is_new


def test_same_service_within_30_minutes_joins() -> None:
    incident = IncidentSnapshot.start(1, alert("HighErrorRate", service="checkout"))
    match = match_alert(alert("LatencyHigh", minutes=29, service="checkout"), [incident])
    assert match.incident_id == 1
    assert match.reason == "joined: same service checkout, 29 min after the last alert"


def test_window_counts_from_the_incidents_last_alert() -> None:
    incident = IncidentSnapshot.start(1, alert("A", service="checkout"))
    incident.absorb(alert("B", minutes=25, service="checkout"))
    assert match_alert(alert("C", minutes=50, service="checkout"), [incident]).incident_id == 1
    assert match_alert(alert("D", minutes=56, service="checkout"), [incident]).is_new


def test_same_service_after_the_window_opens_a_new_incident() -> None:
    incident = IncidentSnapshot.start(1, alert("HighErrorRate", service="checkout"))
    assert match_alert(alert("LatencyHigh", minutes=31, service="checkout"), [incident]).is_new


def test_job_then_namespace_stand_in_for_a_missing_service_label() -> None:
    incident = IncidentSnapshot.start(1, alert("A", job="node-exporter"))
    assert match_alert(alert("B", minutes=1, job="node-exporter"), [incident]).incident_id == 1
    other = IncidentSnapshot.start(2, alert("A", namespace="monitoring"))
    assert match_alert(alert("C", minutes=1, namespace="monitoring"), [other]).incident_id == 2


def test_same_group_key_joins_even_across_services_and_time() -> None:
    key = '{}:{alertname="high_memory_load"}'
    incident = IncidentSnapshot.start(7, alert("high_memory_load", group_key=key, instance="a"))
    late = alert("high_memory_load", minutes=120, group_key=key, instance="b", service="other")
    match = match_alert(late, [incident])
    assert match.incident_id == 7 and "Alertmanager group" in match.reason


def test_different_services_stay_apart() -> None:
    incident = IncidentSnapshot.start(1, alert("HighErrorRate", service="checkout"))
    assert match_alert(alert("HighErrorRate", minutes=1, service="payments"), [incident]).is_new


def test_fingerprint_beats_group_key_beats_service() -> None:
    known = alert("A", service="s", instance="x")
    by_fingerprint = IncidentSnapshot.start(1, known)
    by_group = IncidentSnapshot.start(2, alert("Z", group_key="g", service="q"))
    by_service = IncidentSnapshot.start(3, alert("Y", service="s"))
    repeat = Alert(
        fingerprint=known.fingerprint,
        status="firing",
        starts_at=T0 + timedelta(minutes=5),
        ends_at=None,
        labels=known.labels,
        group_key="g",
    )
    assert match_alert(repeat, [by_service, by_group, by_fingerprint]).incident_id == 1
    fresh = alert("B", minutes=1, group_key="g", service="s")
    assert match_alert(fresh, [by_service, by_group]).incident_id == 2


def test_most_recent_incident_wins_a_tie() -> None:
    old = IncidentSnapshot.start(1, alert("A", service="s"))
    new = IncidentSnapshot.start(2, alert("B", minutes=10, service="s"))
    assert match_alert(alert("C", minutes=12, service="s"), [old, new]).incident_id == 2


def test_grouping_uses_event_time_not_arrival_order() -> None:
    # An alert that started before the incident's first alert, delivered late, still joins.
    incident = IncidentSnapshot.start(1, alert("A", minutes=20, service="s"))
    assert match_alert(alert("B", minutes=0, service="s"), [incident]).incident_id == 1
