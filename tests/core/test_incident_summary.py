from __future__ import annotations

from datetime import UTC, datetime, timedelta

from core.incident_stats import IncidentTimes, percentile, response_stats
from core.incident_summary import root_cause_from_record, summarize
from core.incidents import AlertBrief
from core.severity import Severity
from core.topology import Service, Topology

T0 = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)
TOPOLOGY = Topology([Service("api", tier=2, depends_on=("db",)), Service("db", tier=1)])


def brief(name: str, service: str | None, seconds: int, severity: Severity) -> AlertBrief:
    return AlertBrief(
        fingerprint=f"{name}{seconds}",
        name=name,
        severity=severity,
        service=service,
        firing=True,
        starts_at=T0 + timedelta(seconds=seconds),
    )


def test_summary_names_the_upstream_service_as_root_cause() -> None:
    alerts = [
        brief("HighErrorRate", "api", 0, Severity.CRITICAL),  # the symptom alerted first
        brief("DatabaseDown", "db", 20, Severity.CRITICAL),
    ]
    summary = summarize(alerts, TOPOLOGY)
    assert summary.title == "api: HighErrorRate and 1 other alert"
    assert summary.severity is Severity.CRITICAL
    assert (summary.first_alert_at, summary.last_alert_at) == (T0, T0 + timedelta(seconds=20))
    assert summary.root_cause is not None
    assert summary.root_cause["service"] == "db" and summary.root_cause["in_catalog"] is True
    cause = root_cause_from_record(summary.root_cause)
    assert cause is not None and cause.headline().startswith("Probable root cause: db (")


def test_no_root_cause_for_one_service_the_catalog_does_not_know() -> None:
    alone = [brief("DiskFull", "mailer", 0, Severity.WARNING)]
    assert summarize(alone, TOPOLOGY).root_cause is None
    known = [brief("DatabaseDown", "db", 0, Severity.CRITICAL)]
    assert summarize(known, TOPOLOGY).root_cause is not None
    two = [brief("A", "x", 0, Severity.ERROR), brief("B", "y", 5, Severity.ERROR)]
    record = summarize(two, TOPOLOGY).root_cause
    assert record is not None and record["in_catalog"] is False
    assert root_cause_from_record(None) is None and root_cause_from_record({}) is None


def test_percentiles_are_nearest_rank() -> None:
    values = [timedelta(minutes=m) for m in (1, 2, 3, 4, 10)]
    assert percentile(values, 0.5) == timedelta(minutes=3)
    assert percentile(values, 0.9) == timedelta(minutes=10)
    assert percentile([], 0.5) is None


def test_response_stats() -> None:
    stats = response_stats(
        [
            IncidentTimes(T0, T0 + timedelta(minutes=2), T0 + timedelta(minutes=30), 10),
            IncidentTimes(T0, None, None, 2),
        ]
    )
    assert (stats.incidents, stats.alerts, stats.alerts_per_incident) == (2, 12, 6.0)
    assert round(stats.noise_reduction, 3) == round(1 - 2 / 12, 3)
    assert (stats.mtta.count, stats.mtta.p50) == (1, timedelta(minutes=2))
    assert (stats.mttr.count, stats.mttr.p90) == (1, timedelta(minutes=30))
