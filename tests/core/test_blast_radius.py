from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from core.alerts import Alert, fingerprint
from core.blast_radius import (
    PropagationStep,
    ServiceStatus,
    UnknownServiceError,
    blast_radius,
    describe_propagation,
    propagation,
    statuses_from_alerts,
)
from core.topology import Service, Topology

T0 = datetime(2026, 11, 1, 3, 0, 12, tzinfo=UTC)
FAILING, DEGRADED, HEALTHY = ServiceStatus.FAILING, ServiceStatus.DEGRADED, ServiceStatus.HEALTHY
TOPOLOGY = Topology(
    [
        Service("web", team="web", tier=1, depends_on=("checkout",), users=100_000,
                revenue_per_hour=40_000),
        Service("mobile", team="web", tier=1, depends_on=("checkout",), users=50_000,
                revenue_per_hour=10_000.5),
        Service("checkout", team="payments", tier=1, depends_on=("payments-api",)),
        Service("payments-api", team="payments", tier=2, depends_on=("postgres",)),
        Service("reports", team="finance", tier=3, depends_on=("postgres",), users=40),
        Service("postgres", team="dba", tier=1),
        Service("search", team="search", tier=2),
    ]
)  # fmt: skip


def test_every_dependent_with_depth_status_and_sums() -> None:
    result = blast_radius(
        TOPOLOGY, "postgres", {"postgres": FAILING, "payments-api": FAILING, "web": DEGRADED}
    )
    rows = [(a.name, a.depth, a.via, a.tier, a.team, a.status) for a in result.affected]
    assert sorted(rows, key=lambda row: (row[1], row[0])) == [
        ("payments-api", 1, "postgres", 2, "payments", FAILING),
        ("reports", 1, "postgres", 3, "finance", HEALTHY),
        ("checkout", 2, "payments-api", 1, "payments", HEALTHY),
        ("mobile", 3, "checkout", 1, "web", HEALTHY),
        ("web", 3, "checkout", 1, "web", DEGRADED),
    ]
    assert [a.depth for a in result.affected] == sorted(a.depth for a in result.affected)
    assert (result.users, result.revenue_per_hour) == (150_040, 50_000.5)
    assert result.status is FAILING and result.depth == 3
    assert sorted(result.edges()) == [
        ("checkout", "payments-api"),
        ("mobile", "checkout"),
        ("payments-api", "postgres"),
        ("reports", "postgres"),
        ("web", "checkout"),
    ]
    assert result.summary() == (
        "postgres: 5 dependent services (1 failing, 1 degraded), up to 3 hops; "
        "at least 150,040 users, at least 50,000/h revenue"
    )
    assert (result.users_unknown, result.revenue_unknown) == (3, 4)


def test_what_if_for_a_healthy_service() -> None:
    result = blast_radius(TOPOLOGY, "checkout", what_if=True, failed_at={"checkout": T0})
    assert result.what_if and result.status is HEALTHY
    assert {a.name for a in result.affected} == {"web", "mobile"}
    assert result.propagation == ()  # nothing failed yet
    assert result.summary().startswith("What if checkout failed? 2 dependent services")


def test_a_leaf_has_no_blast_radius() -> None:
    result = blast_radius(TOPOLOGY, "search")
    assert result.affected == () and result.depth == 0 and result.edges() == []


def test_unknown_services_get_suggestions() -> None:
    with pytest.raises(UnknownServiceError, match="did you mean postgres"):
        blast_radius(TOPOLOGY, "postgre")


def test_propagation_path_of_an_incident() -> None:
    failed = {
        "postgres": T0,
        "payments-api": T0 + timedelta(seconds=25),
        "checkout": T0 + timedelta(seconds=65),
        "web": T0 + timedelta(seconds=80),
        "search": T0 + timedelta(seconds=5),
    }
    steps = propagation(TOPOLOGY, failed)
    assert steps[:3] == (
        PropagationStep("postgres", T0, None, None),
        PropagationStep("search", T0 + timedelta(seconds=5), None, None),
        PropagationStep(
            "payments-api", T0 + timedelta(seconds=25), "postgres", timedelta(seconds=25)
        ),
    )
    assert describe_propagation(steps)[3:] == [
        "2026-11-01T03:01:17Z checkout failed, 40 s after payments-api",
        "2026-11-01T03:01:32Z web failed, 15 s after checkout",
    ]
    result = blast_radius(TOPOLOGY, "postgres", failed_at=failed)
    assert [step.service for step in result.propagation] == [
        "postgres",
        "payments-api",
        "checkout",
        "web",
    ]  # search is outside the blast radius


def test_statuses_from_open_alerts() -> None:
    def alert(service: str, severity: str, status: str = "firing") -> Alert:
        labels = {"alertname": "X", "service": service, "severity": severity}
        return Alert(fingerprint(labels), status, T0, None, labels)  # type: ignore[arg-type]

    statuses = statuses_from_alerts(
        [
            alert("a", "warning"),
            alert("a", "critical"),
            alert("b", "warning"),
            alert("c", "error"),
            alert("d", "critical", status="resolved"),
        ]
    )
    assert statuses == {"a": FAILING, "b": DEGRADED, "c": FAILING}


def test_five_thousand_dependents_are_walked_quickly() -> None:
    """A guard against quadratic walks, far from the 20 ms the bench holds it to."""
    layers = [[f"s{layer}-{i}" for i in range(1000)] for layer in range(5)]
    services = [Service("root")] + [
        Service(name, depends_on=(layers[layer - 1][i] if layer else "root",
                                  layers[layer - 1][(i * 7) % 1000] if layer else "root"))
        for layer, names in enumerate(layers)
        for i, name in enumerate(names)
    ]  # fmt: skip
    topology = Topology(services)
    began = time.perf_counter()
    result = blast_radius(topology, "root")
    assert time.perf_counter() - began < 0.2
    assert len(result.affected) == 5000 and result.depth == 5


def test_figures_the_catalog_lacks_are_unknown_never_zero() -> None:
    bare = Topology([Service("db"), Service("api", depends_on=("db",))])
    result = blast_radius(bare, "db")
    assert (result.users, result.revenue_per_hour) == (None, None)
    assert result.summary() == "db: 1 dependent service, up to 1 hop; users and revenue unknown"
    zero = Topology(
        [
            Service("db", users=0, revenue_per_hour=0),
            Service("api", depends_on=("db",), users=0, revenue_per_hour=0.0),
        ]
    )
    counted = blast_radius(zero, "db")
    assert (counted.users, counted.revenue_per_hour) == (0, 0.0)
    assert counted.summary().endswith("; 0 users, 0/h revenue")
    some = Topology([Service("db"), Service("api", depends_on=("db",), users=1_200)])
    partly = blast_radius(some, "db")
    assert partly.summary().endswith("; at least 1,200 users, revenue unknown")
