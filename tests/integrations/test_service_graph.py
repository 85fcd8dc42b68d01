"""The service topology from a real Prometheus: the Debian `prometheus` binary on a loopback
port scrapes a tiny exporter of Tempo and Istio service-graph metrics served by this test,
and `ServiceCatalog` turns what it answers into dependency edges."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bot.config import LookoutConfig
from bot.service_catalog import ServiceCatalog
from core.topology import CONFIG, PROMETHEUS, Service, Topology
from integrations.prometheus import PrometheusClient
from tests.conftest import free_port
from tests.integrations.prometheus_process import PROMETHEUS as PROMETHEUS_BINARY
from tests.integrations.prometheus_process import (
    SKIP_REASON,
    exporter_server,
    running_prometheus,
)

pytestmark = pytest.mark.skipif(PROMETHEUS_BINARY is None, reason=SKIP_REASON)

METRICS = b"""# TYPE traces_service_graph_request_total counter
traces_service_graph_request_total{client="checkout",server="payments"} 5
traces_service_graph_request_total{client="user",server="web",connection_type="virtual_node"} 7
# TYPE istio_requests_total counter
istio_requests_total{source_workload="web",destination_workload="checkout"} 3
istio_requests_total{source_workload="unknown",destination_workload="web"} 9
"""


@pytest.fixture(scope="module")
def exporter() -> Iterator[str]:
    with exporter_server(lambda path: METRICS if path == "/metrics" else None) as address:
        yield address


@pytest.fixture(scope="module")
def prometheus_url(exporter: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder: Path = tmp_path_factory.mktemp("prometheus-graph")
    config = (
        "global:\n  scrape_interval: 1s\n"
        "scrape_configs:\n"
        f"  - job_name: graph\n    static_configs:\n      - targets: ['{exporter}']\n"
    )

    def scraped(url: str) -> bool:
        answer = httpx.get(
            f"{url}/api/v1/query",
            params={"query": "traces_service_graph_request_total"},
            timeout=1,
        )
        return answer.status_code == 200 and bool(answer.json()["data"]["result"])

    with running_prometheus(folder, config, scraped, waiting_for="scrape the exporter") as url:
        yield url


async def test_service_graph_edges_from_a_real_prometheus(prometheus_url: str) -> None:
    async with httpx.AsyncClient() as http:
        catalog = ServiceCatalog(
            services=Topology([Service("payments", team="payments", sources=frozenset({CONFIG}))]),
            prometheus=PrometheusClient(prometheus_url, http),
        )
        assert await catalog.reload_service_graph()
    topology = catalog.current()
    assert topology.dependencies("checkout") == ("payments",)
    assert topology.dependencies("web") == ("checkout",)
    # Tempo's uninstrumented callers and Istio's "unknown" are no services.
    assert "user" not in topology and "unknown" not in topology
    assert topology.upstream("web") == {"checkout": 1, "payments": 2}
    assert topology.service("payments").team == "payments"  # the config's facts stay
    assert topology.service("payments").sources == {CONFIG, PROMETHEUS}


async def test_an_unreachable_prometheus_keeps_the_last_graph(prometheus_url: str) -> None:
    async with httpx.AsyncClient() as http:
        client = PrometheusClient(prometheus_url, http)
        catalog = ServiceCatalog(prometheus=client)
        await catalog.refresh()
        known = catalog.current()
        assert "checkout" in known
        client.base_url = f"http://127.0.0.1:{free_port()}"  # Prometheus went away
        assert not await catalog.reload_service_graph()
        assert catalog.current() is known


async def test_the_catalog_refreshes_on_its_schedule(prometheus_url: str) -> None:
    catalog = ServiceCatalog.from_config(
        LookoutConfig(), config_path=None, prometheus_url=prometheus_url
    )
    assert len(catalog.current()) == 0  # Prometheus is asked once the process runs
    catalog.start()
    try:
        for _ in range(100):
            if "checkout" in catalog.current():
                break
            await asyncio.sleep(0.05)
        assert catalog.current().dependencies("checkout") == ("payments",)
    finally:
        await catalog.stop()
