from __future__ import annotations

from datetime import UTC, datetime, timedelta

from core.root_cause import RecentChange, ServiceFailure, rank_root_causes
from core.severity import Severity
from core.topology import Service, Topology

T0 = datetime(2026, 11, 1, 3, 0, 12, tzinfo=UTC)
TOPOLOGY = Topology(
    [
        Service("web", tier=1, depends_on=("checkout",)),
        Service("checkout", tier=1, depends_on=("payments-api", "redis")),
        Service("payments-api", tier=2, depends_on=("postgres-primary",)),
        Service("reports", tier=3, depends_on=("postgres-primary",)),
        Service("postgres-primary", tier=1),
        Service("redis", tier=2),
        Service("a", depends_on=("b",)),
        Service("b", depends_on=("a",)),
    ]
)


def failures(**seconds: tuple[float, Severity]) -> dict[str, ServiceFailure]:
    return {
        name.replace("_", "-"): ServiceFailure(T0 + timedelta(seconds=at), severity)
        for name, (at, severity) in seconds.items()
    }


CRIT, WARN = Severity.CRITICAL, Severity.WARNING


def test_the_most_upstream_failing_service_wins_even_when_it_alerts_last() -> None:
    ranking = rank_root_causes(
        failures(
            web=(0, CRIT), checkout=(10, WARN), payments_api=(20, WARN), postgres_primary=(95, CRIT)
        ),
        TOPOLOGY,
    )
    assert ranking[0].service == "postgres-primary"
    assert ranking[-1].service == "checkout"  # blocked, and only warnings
    top = ranking[0]
    assert top.factors[0] == (
        "first alert at 2026-11-01T03:01:47Z, 2 min after the first "
        "and depends on no failing service"
    )
    assert "3 services that depend on it alerted, 0 of them after it" in top.factors
    assert top.confidence > ranking[1].confidence


def test_why_reads_like_the_issue_says() -> None:
    top = rank_root_causes(
        failures(
            postgres_primary=(0, CRIT),
            payments_api=(20, WARN),
            reports=(25, WARN),
            checkout=(40, WARN),
            web=(70, CRIT),
        ),
        TOPOLOGY,
    )[0]
    assert top.service == "postgres-primary"
    assert top.why == (
        "failed first (2026-11-01T03:00:12Z) and depends on no failing service; "
        "4 services that depend on it alerted after it; tier 1"
    )
    assert top.headline().startswith("Probable root cause: postgres-primary (failed first")
    assert 0.8 < top.confidence <= 0.99


def test_a_warning_on_a_dependency_does_not_make_it_the_cause() -> None:
    """A disk filling up on redis is not why checkout is failing."""
    ranking = rank_root_causes(failures(checkout=(0, CRIT), redis=(60, WARN)), TOPOLOGY)
    assert ranking[0].service == "checkout"
    assert ranking[1].factors[0].endswith("warnings only and depends on no failing service")


def test_a_recent_change_raises_a_candidate() -> None:
    facts = failures(redis=(30, CRIT), payments_api=(0, CRIT))
    assert rank_root_causes(facts, TOPOLOGY)[0].service == "payments-api"
    deploy = RecentChange("redis", T0 - timedelta(minutes=4), "deploy redis 7.2.5 by alice")
    stale = RecentChange("payments-api", T0 - timedelta(hours=3), "deploy payments 1.0")
    ranking = rank_root_causes(facts, TOPOLOGY, changes=[deploy, stale])
    assert ranking[0].service == "redis"
    assert "changed 4 min before its first alert: deploy redis 7.2.5 by alice" in ranking[0].factors


def test_a_dependency_cycle_does_not_block_both() -> None:
    ranking = rank_root_causes(failures(a=(5, CRIT), b=(0, CRIT)), TOPOLOGY)
    assert [cause.service for cause in ranking] == ["b", "a"]


def test_unknown_services_rank_with_the_lowest_tier_and_no_facts_means_no_answer() -> None:
    assert rank_root_causes({}, TOPOLOGY) == []
    ranking = rank_root_causes(failures(mystery=(0, CRIT), redis=(0, CRIT)), TOPOLOGY)
    assert ranking[0].service == "redis"  # same time: tier 2 before the unknown tier 3
    assert abs(sum(cause.confidence for cause in ranking) - 1) < 0.02
