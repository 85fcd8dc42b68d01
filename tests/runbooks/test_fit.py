"""Runbooks fit incidents by what they declare: alert name patterns, the metrics an alert's
rule queries, labels, services and service types — and each fit says why."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from runbooks.fit import AlertFacts, ServiceFacts, fit
from runbooks.loader import load_library

from .conftest import runbook

LIBRARY = load_library().runbooks
FAILOVER = LIBRARY["failover-postgresql-replica"]


def prometheus_url(expression: str) -> str:
    return f"http://prometheus:9090/graph?g0.expr={quote(expression, safe='')}&g0.tab=1"


@pytest.mark.parametrize(
    "name",
    ["PostgresDown", "PostgresqlDown", "PostgreSQLDown", "postgres_down", "PatroniHasNoLeader"],
)
def test_the_exporters_name_variants_fit_the_failover_runbook(name: str) -> None:
    how = fit(FAILOVER, [AlertFacts(name, {"severity": "critical"})])
    assert how.score >= 3
    assert how.reasons[0].startswith(f"alert {name} matches ")


# The same failure under the names of the two rule sets most people start from: the
# kubernetes-mixin (kube-prometheus) and awesome-prometheus-alerts.
@pytest.mark.parametrize(
    ("runbook", "name"),
    [
        ("restart-kubernetes-deployment", "KubePodCrashLooping"),
        ("restart-kubernetes-deployment", "KubernetesPodCrashLooping"),
        ("rollback-kubernetes-deployment", "KubeDeploymentReplicasMismatch"),
        ("rollback-kubernetes-deployment", "KubernetesDeploymentReplicasMismatch"),
        ("rollback-kubernetes-deployment", "KubeDeploymentGenerationMismatch"),
        ("rollback-kubernetes-deployment", "KubernetesDeploymentGenerationMismatch"),
        ("scale-kubernetes-deployment", "KubeHpaMaxedOut"),
        ("scale-kubernetes-deployment", "KubernetesHpaScaleCapability"),
        ("scale-kubernetes-deployment", "KubernetesHpaScaleMaximum"),
    ],
)
def test_kubernetes_rule_sets_names_fit_the_kubernetes_runbooks(runbook: str, name: str) -> None:
    how = fit(LIBRARY[runbook], [AlertFacts(name, {"namespace": "shop"})])
    assert how.score >= 3, how
    assert how.reasons[0].startswith(f"alert {name}")  # "… matches Kube*…" for a pattern


@pytest.mark.parametrize(
    ("runbook", "expression"),
    [
        (
            "rollback-kubernetes-deployment",
            "kube_deployment_status_observed_generation != kube_deployment_metadata_generation",
        ),
        (
            "scale-kubernetes-deployment",
            "kube_horizontalpodautoscaler_status_desired_replicas"
            " >= kube_horizontalpodautoscaler_spec_max_replicas",
        ),
    ],
)
def test_a_kubernetes_rule_fits_by_the_metric_it_queries(runbook: str, expression: str) -> None:
    alert = AlertFacts("SomethingOurTeamNamed", {}, generator_url=prometheus_url(expression))
    assert fit(LIBRARY[runbook], [alert]).score == 3


def test_any_alert_whose_rule_queries_pg_up_fits_whatever_its_name() -> None:
    alert = AlertFacts(
        "DatabaseGone", {}, generator_url=prometheus_url("max(pg_up) by (instance) < 1")
    )
    how = fit(FAILOVER, [alert])
    assert how.score == 3
    assert how.reasons == ("alert DatabaseGone queries pg_up",)
    named_and_queried = fit(
        FAILOVER, [AlertFacts("PostgresqlDown", {}, generator_url=prometheus_url("pg_up == 0"))]
    )
    assert named_and_queried.score == 6
    assert named_and_queried.reasons == (
        "alert PostgresqlDown matches Postgres*Down, its rule queries pg_up",
    )


def test_a_service_type_adds_to_the_fit_and_says_so() -> None:
    services = {"orders-db": ServiceFacts("orders-db", type="postgresql")}
    alert = AlertFacts("PostgresDown", {}, service="orders-db")
    how = fit(FAILOVER, [alert], services=services, root_cause="orders-db")
    assert how.score == 3 + 2 + 1
    assert how.reasons == (
        "alert PostgresDown matches Postgres*Down, orders-db is a postgresql service, "
        "on the probable root cause",
    )
    # A down-ish alert of a PostgreSQL service fits by type, a cache's does not.
    assert fit(
        FAILOVER, [AlertFacts("ReplicaUnreachable", {}, service="orders-db")], services=services
    )
    assert not fit(
        FAILOVER, [AlertFacts("ReplicaUnreachable", {}, service="cache")], services=services
    )


def test_unrelated_alerts_do_not_fit_and_resolved_ones_count_half() -> None:
    assert not fit(FAILOVER, [AlertFacts("HighErrorRate", {"service": "checkout"})])
    firing = fit(FAILOVER, [AlertFacts("PostgresDown", {})])
    resolved = fit(FAILOVER, [AlertFacts("PostgresDown", {}, firing=False)])
    assert resolved.score == firing.score / 2
    assert resolved.reasons[0].endswith(", resolved")


def test_labels_and_services_constrain_a_trigger() -> None:
    book = runbook(
        """
        name: drain-node
        title: Drain a node
        risk: medium
        triggers:
          - alerts: ["Node*"]
            labels: {cluster: "prod-*"}
            services: [kubelet]
        steps: [{name: echo, kind: exec, argv: [/bin/echo, hi]}]
        """
    )
    fits = AlertFacts("NodeNotReady", {"cluster": "prod-eu1"}, service="kubelet")
    assert fit(book, [fits]).reasons == (
        "alert NodeNotReady matches Node*, cluster=prod-eu1, on kubelet",
    )
    assert not fit(book, [AlertFacts("NodeNotReady", {"cluster": "staging"}, service="kubelet")])
    assert not fit(book, [AlertFacts("NodeNotReady", {"cluster": "prod-eu1"}, service="api")])


def test_the_catalog_listing_a_runbook_for_a_service_is_the_strongest_fit() -> None:
    services = {"checkout": ServiceFacts("checkout", runbooks=("restart-systemd-service",))}
    how = fit(
        LIBRARY["restart-systemd-service"],
        [AlertFacts("LatencyHigh", {}, service="checkout")],
        services=services,
    )
    assert how.score == 4
    assert how.reasons == ("the service catalog lists it for checkout",)


def test_ranking_an_incident_puts_the_best_fit_first() -> None:
    alerts = [
        AlertFacts(
            "PostgresDown",
            {},
            service="postgres-primary",
            generator_url=prometheus_url("pg_up == 0"),
        ),
        AlertFacts("HighErrorRate", {}, service="checkout"),
        AlertFacts("LatencyP99High", {}, service="checkout"),
    ]
    services = {"postgres-primary": ServiceFacts("postgres-primary", type="postgresql")}
    scored = {
        name: fit(book, alerts, services=services, root_cause="postgres-primary")
        for name, book in LIBRARY.items()
    }
    ranked = sorted((how.score, name) for name, how in scored.items() if how)
    assert [name for _, name in reversed(ranked)] == [
        "failover-postgresql-replica",
        "rollback-kubernetes-deployment",
    ]
    assert scored["failover-postgresql-replica"].alert == alerts[0]
