"""The root-cause ranking with metric evidence added: the series that moved first and most
re-rank the alerting services, a silent dependency that moved first joins them, and
topology still outweighs one caller's metrics."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from core.root_cause import MetricSupport, ServiceFailure, rank_root_causes
from core.severity import Severity
from core.topology import Service, Topology

T0 = datetime(2026, 11, 1, 3, 0, tzinfo=UTC)
CRIT = Severity.CRITICAL
TOPOLOGY = Topology(
    [
        Service("frontend", tier=1, depends_on=("cart", "payments")),
        Service("cart", tier=2, depends_on=("redis",)),
        Service("payments", tier=2),
        Service("redis", tier=2),
        Service("search", tier=2),
    ]
)


def alerted(**minutes: float) -> dict[str, ServiceFailure]:
    return {name: ServiceFailure(T0 + timedelta(minutes=m), CRIT) for name, m in minutes.items()}


def support(
    evidence: float, minutes: float, series: str = "errors", explained_by: str | None = None
) -> MetricSupport:
    return MetricSupport(
        evidence=evidence,
        series=series,
        score=round(evidence * 3, 1),
        moved_at=T0 + timedelta(minutes=minutes),
        explained_by=explained_by,
    )


def test_the_service_whose_metrics_moved_first_and_most_outranks_the_one_that_alerted_first() -> (
    None
):
    failures = alerted(cart=0, payments=1)  # two unrelated services
    assert rank_root_causes(failures, TOPOLOGY)[0].service == "cart"
    ranking = rank_root_causes(
        failures,
        TOPOLOGY,
        metrics={"payments": support(6.0, minutes=-6), "cart": support(2.0, minutes=-2)},
    )
    assert [cause.service for cause in ranking] == ["payments", "cart"]
    assert ranking[0].confidence > ranking[1].confidence
    assert (
        "metrics moved first, before any alert: errors, robust z 18.0, at 2026-11-01T02:54:00Z"
        in ranking[0].factors
    )
    assert "metrics moved: errors, robust z 6.0, at 2026-11-01T02:58:00Z" in ranking[1].factors


def test_metrics_that_moved_later_and_less_do_not_unseat_the_first_alert() -> None:
    ranking = rank_root_causes(
        alerted(cart=0, payments=1),
        TOPOLOGY,
        metrics={"payments": support(2.0, minutes=1), "cart": support(6.0, minutes=-1)},
    )
    assert [cause.service for cause in ranking] == ["cart", "payments"]


def test_one_callers_metrics_do_not_lift_it_above_the_failing_dependency_it_waits_on() -> None:
    ranking = rank_root_causes(
        alerted(frontend=1, cart=0),
        TOPOLOGY,
        metrics={"frontend": support(9.0, minutes=-5), "cart": support(1.0, minutes=0)},
    )
    assert ranking[0].service == "cart"
    assert "failed first (2026-11-01T03:00:00Z) and depends on no failing service" in (
        ranking[0].factors
    )


def test_a_silent_dependency_that_moved_first_and_most_explains_its_callers_alert() -> None:
    ranking = rank_root_causes(
        alerted(cart=0),
        TOPOLOGY,
        metrics={
            "redis": support(5.0, minutes=-4, series="saturation"),
            "cart": support(1.5, minutes=-1, explained_by="redis"),
        },
    )
    assert [cause.service for cause in ranking] == ["redis", "cart"]
    redis = ranking[0]
    assert redis.factors[0] == (
        "no alert, its metrics moved at 2026-11-01T02:56:00Z and depends on no failing service"
    )
    assert "1 service that depends on it alerted after it" in redis.factors
    assert (
        "metrics moved: errors, robust z 4.5, at 2026-11-01T02:59:00Z "
        "(discounted: redis, which it calls, moved more and earlier)"
    ) in ranking[1].factors


def test_a_silent_dependency_that_moved_after_its_caller_and_less_stays_below_it() -> None:
    ranking = rank_root_causes(
        alerted(cart=0),
        TOPOLOGY,
        metrics={"redis": support(1.0, minutes=2), "cart": support(5.0, minutes=-1)},
    )
    assert [cause.service for cause in ranking] == ["cart", "redis"]


def test_a_moved_service_the_incident_does_not_call_is_no_candidate_and_weighs_nothing() -> None:
    failures = alerted(cart=0, payments=1)
    own = {"payments": support(6.0, minutes=-6), "cart": support(2.0, minutes=-2)}
    ranking = rank_root_causes(
        failures, TOPOLOGY, metrics={**own, "search": support(30.0, minutes=-8)}
    )
    assert ranking == rank_root_causes(failures, TOPOLOGY, metrics=own)
    assert [cause.service for cause in ranking] == ["payments", "cart"]


def test_without_metric_evidence_the_ranking_is_the_alerts_own() -> None:
    failures = alerted(frontend=0, cart=2, payments=3)
    plain = rank_root_causes(failures, TOPOLOGY)
    assert rank_root_causes(failures, TOPOLOGY, metrics={}) == plain
    assert rank_root_causes(failures, TOPOLOGY, metrics={"cart": support(0.0, minutes=0)}) == plain
