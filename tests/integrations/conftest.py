"""A real Prometheus serving series the tests wrote at the times they chose (see
`live_world`), shared by the tests of the skills that read live metrics."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from tests.integrations.live_world import LiveWorld, write
from tests.integrations.prometheus_backfill import PROMTOOL
from tests.integrations.prometheus_process import PROMETHEUS, SKIP_REASON, running_prometheus


@pytest.fixture(scope="session")
def live_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveWorld]:
    if PROMETHEUS is None or PROMTOOL is None:
        pytest.skip(SKIP_REASON)
    folder = tmp_path_factory.mktemp("live-world")
    now = float(int(time.time()) // 15 * 15)  # on a sample: the last one is at NOW
    write(folder, now)

    def loaded(url: str) -> bool:
        answer = httpx.get(
            f"{url}/api/v1/query",
            params={"query": "traces_service_graph_request_total", "time": f"{now - 60}"},
            timeout=1,
        )
        return answer.status_code == 200 and len(answer.json()["data"]["result"]) == 3

    config = "global: {scrape_interval: 15s}\nscrape_configs: []\n"
    with running_prometheus(folder, config, loaded, waiting_for="load the backfill") as url:
        yield LiveWorld(url=url, now=now)
