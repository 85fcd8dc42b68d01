from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from core.topology import BACKSTAGE, CONFIG, PROMETHEUS, Service, Topology, merge
from core.topology_sources import (
    entity_name,
    from_backstage,
    from_config,
    from_service_graph,
)

BACKSTAGE_FILES = Path(__file__).parent / "data" / "backstage"

CONFIG_YAML = """
services:
  - name: checkout
    team: payments
    tier: 1
    depends_on: [payments-api, postgres-primary]
    channel: "#checkout"
    runbooks: [restart-checkout]
    annotations: {users: 120000, revenue_per_hour: "45000"}
  - name: payments-api
    team: payments
    tier: 2
    depends_on: [postgres-primary]
  - name: postgres-primary
    team: dba
    tier: 1
"""


def config_topology() -> Topology:
    return from_config(yaml.safe_load(CONFIG_YAML)["services"])


def backstage_documents() -> list[Any]:
    documents: list[Any] = []
    for path in sorted(BACKSTAGE_FILES.glob("*.yaml")):
        documents += list(yaml.safe_load_all(path.read_text()))
    return documents


def test_config_services_with_their_facts() -> None:
    topology = config_topology()
    checkout = topology.service("checkout")
    assert checkout == Service(
        name="checkout",
        team="payments",
        tier=1,
        depends_on=("payments-api", "postgres-primary"),
        channel="#checkout",
        runbooks=("restart-checkout",),
        users=120_000,
        revenue_per_hour=45_000.0,
        sources=frozenset({CONFIG}),
    )
    assert topology.dependents("postgres-primary") == ("checkout", "payments-api")


def test_config_errors_name_the_entry() -> None:
    with pytest.raises(ValueError, match=r"services\[1\]: tier"):
        from_config([{"name": "a"}, {"name": "b", "tier": 5}])
    with pytest.raises(ValueError, match="a: users must be a number"):
        from_config([{"name": "a", "annotations": {"users": "many"}}])


def test_a_dependency_nobody_declared_becomes_a_bare_service() -> None:
    topology = from_config([{"name": "api", "depends_on": ["redis"]}])
    assert "redis" in topology
    assert topology.service("redis").team is None
    assert topology.service("redis").rank_tier == 3


def test_hops_both_ways_and_limits() -> None:
    topology = config_topology()
    assert topology.upstream("checkout") == {"payments-api": 1, "postgres-primary": 1}
    assert topology.downstream("postgres-primary") == {"checkout": 1, "payments-api": 1}
    chain = Topology(
        [Service("web", depends_on=("api",)), Service("api", depends_on=("db",)), Service("db")]
    )
    assert chain.downstream("db") == {"api": 1, "web": 2}
    assert chain.downstream("db", max_hops=1) == {"api": 1}
    assert chain.dependency_path("web", "db") == ["web", "api", "db"]
    assert chain.dependency_path("db", "web") is None


def test_cycles_do_not_loop() -> None:
    topology = Topology([Service("a", depends_on=("b",)), Service("b", depends_on=("a",))])
    assert topology.upstream("a") == {"b": 1}
    assert topology.downstream("a") == {"b": 1}


def test_neighbours_are_sorted() -> None:
    neighbours = config_topology().neighbours("payments-api")
    assert neighbours.dependencies == ("postgres-primary",)
    assert neighbours.dependents == ("checkout",)


def test_backstage_entities_become_services() -> None:
    topology = from_backstage(backstage_documents())
    payments = topology.service("payments-api")
    assert payments.team == "payments"
    assert payments.tier == 1
    assert payments.channel == "#payments-oncall"
    assert payments.runbooks == ("restart-deployment", "failover-postgres")
    assert payments.depends_on == ("payments-postgres", "fraud-scoring", "ledger")
    assert topology.service("checkout-api").team == "jane.doe"
    storefront = topology.service("storefront-web")
    assert (storefront.users, storefront.revenue_per_hour) == (120_000, 45_000.0)
    assert topology.service("search-api").depends_on == (
        "search-elasticsearch",
        "redis-sessions",
    )
    # Locations and Groups are not services; Systems and APIs are (with no edges).
    assert "storefront-extra" not in topology and "web-platform" not in topology
    assert "checkout" in topology and "payments-api-spec" in topology
    assert all(BACKSTAGE in s.sources for s in topology.services.values())


def test_backstage_tier_annotation_is_checked() -> None:
    document = {
        "kind": "Component",
        "metadata": {"name": "x", "annotations": {"lookout.io/tier": "7"}},
        "spec": {},
    }
    with pytest.raises(ValueError, match=r"x: lookout\.io/tier must be 1, 2 or 3"):
        from_backstage([document])


@pytest.mark.parametrize(
    ("reference", "name"),
    [
        ("component:default/postgres", "postgres"),
        ("resource:postgres", "postgres"),
        ("default/postgres", "postgres"),
        ("postgres", "postgres"),
        ("group:default/team-payments", "team-payments"),
    ],
)
def test_entity_references(reference: str, name: str) -> None:
    assert entity_name(reference) == name


def test_service_graph_from_tempo_and_istio() -> None:
    samples = [
        {"metric": {"client": "checkout", "server": "payments-api"}, "value": [1, "12.5"]},
        {
            "metric": {"client": "user", "server": "checkout", "connection_type": "virtual_node"},
            "value": [1, "3"],
        },
        {"metric": {"client": "checkout", "server": "checkout"}, "value": [1, "9"]},
        {"metric": {"client": "checkout", "server": "old-api"}, "value": [1, "0"]},
        {"metric": {"client": "checkout", "server": "flaky"}, "value": [1, "NaN"]},
        {
            "metric": {"source_workload": "payments-api", "destination_workload": "postgres"},
            "value": [1, "40"],
        },
        {
            "metric": {"source_workload": "unknown", "destination_workload": "checkout"},
            "value": [1, "5"],
        },
        {"metric": {"job": "node"}, "value": [1, "1"]},
    ]
    topology = from_service_graph(samples)
    assert topology.edges() == [("checkout", "payments-api"), ("payments-api", "postgres")]
    assert "user" not in topology and "unknown" not in topology
    assert topology.service("checkout").sources == frozenset({PROMETHEUS})


def test_merge_config_over_backstage_over_prometheus_with_all_edges() -> None:
    config = from_config([{"name": "checkout-api", "team": "checkout", "tier": 1}])
    backstage = from_backstage(backstage_documents())
    prometheus = from_service_graph(
        [
            {"metric": {"client": "checkout-api", "server": "tax-api"}, "value": [0, "1"]},
            {"metric": {"client": "tax-api", "server": "rates-db"}, "value": [0, "1"]},
        ]
    )
    merged = merge(config, backstage, prometheus)
    checkout = merged.service("checkout-api")
    assert (checkout.team, checkout.tier) == ("checkout", 1)  # config wins over Backstage
    assert checkout.depends_on == ("payments-api", "redis-sessions", "tax-api")
    assert checkout.sources == frozenset({CONFIG, BACKSTAGE, PROMETHEUS})
    assert merged.upstream("checkout-api")["rates-db"] == 2
    assert merged.service("payments-api").team == "payments"  # Backstage fills what config lacks


def test_a_service_declared_twice_in_one_source_is_an_error() -> None:
    with pytest.raises(ValueError, match="declared twice"):
        Topology([Service("a"), Service("a")])
