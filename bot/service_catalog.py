"""The service topology the process works with: merged from three sources, cached, refreshed.

* `services:` of `LOOKOUT_CONFIG` (read once; a bad entry stops the start, like any config
  error);
* Backstage `catalog-info.yaml` files named by `catalog.backstage` (paths or globs relative
  to the config file), re-read on every refresh;
* service-graph metrics from Prometheus when `PROMETHEUS_URL` is set: Tempo's
  `traces_service_graph_request_total` and Istio's `istio_requests_total`, one instant query
  each.

`current()` is what ingestion and skills read: a plain attribute swap, never a wait. A refresh
that fails for one source logs why and keeps that source's last good answer, so a Prometheus
restart or a half-written YAML file does not make services vanish from grouping.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import logging
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import yaml

from bot.config import LookoutConfig
from core.topology import Topology, merge
from core.topology_sources import from_backstage, from_config, from_service_graph
from integrations.prometheus import PrometheusClient, PrometheusError, Sample

log = logging.getLogger(__name__)

SERVICE_GRAPH_QUERIES = (
    # connection_type is kept: Tempo marks uninstrumented callers ("user") as virtual nodes.
    "sum by (client, server, connection_type) (traces_service_graph_request_total)",
    "sum by (source_workload, destination_workload) (istio_requests_total)",
)


class ServiceCatalog:
    def __init__(
        self,
        *,
        services: Topology | None = None,
        backstage: Sequence[str] = (),
        base_dir: Path | None = None,
        prometheus: PrometheusClient | None = None,
        refresh_every: timedelta = timedelta(minutes=10),
        owned_http: httpx.AsyncClient | None = None,
    ) -> None:
        self._configured = services or Topology()
        self._patterns = list(backstage)
        self._base_dir = base_dir or Path.cwd()
        self._prometheus = prometheus
        self._refresh_every = refresh_every
        self._owned_http = owned_http
        self._backstage = Topology()
        self._service_graph = Topology()
        self._current = self._configured
        self._task: asyncio.Task[None] | None = None

    @classmethod
    def from_config(
        cls, config: LookoutConfig, *, config_path: Path | None, prometheus_url: str | None
    ) -> ServiceCatalog:
        """The catalog `config` describes; raises ValueError naming a bad `services:` entry.
        Backstage files are read now, so the topology is complete from the first alert."""
        services = from_config([entry.model_dump(exclude_unset=True) for entry in config.services])
        http = None
        prometheus = None
        if prometheus_url and config.catalog.service_graph:
            http = httpx.AsyncClient(timeout=10)
            prometheus = PrometheusClient(prometheus_url, http)
        catalog = cls(
            services=services,
            backstage=config.catalog.backstage,
            base_dir=config_path.parent if config_path else None,
            prometheus=prometheus,
            refresh_every=timedelta(minutes=config.catalog.refresh_minutes),
            owned_http=http,
        )
        catalog.reload_backstage()
        return catalog

    def current(self) -> Topology:
        return self._current

    # ------------------------------------------------------------------ sources

    def backstage_files(self) -> list[Path]:
        found: dict[Path, None] = {}
        for pattern in self._patterns:
            path = Path(pattern).expanduser()
            if not path.is_absolute():
                path = self._base_dir / path
            matches = sorted(glob.glob(str(path), recursive=True))
            if not matches:
                log.warning("no Backstage catalog file matches", extra={"pattern": pattern})
            found.update((Path(match), None) for match in matches)
        return list(found)

    def reload_backstage(self) -> bool:
        """Re-read every Backstage file; on any error keep the last good topology."""
        if not self._patterns:
            return True
        documents: list[Any] = []
        for path in self.backstage_files():
            try:
                documents.extend(yaml.safe_load_all(path.read_text()))
            except (OSError, yaml.YAMLError) as error:
                log.error(
                    "cannot read a Backstage catalog file; keeping the last good catalog",
                    extra={"path": str(path), "error": str(error)},
                )
                return False
        try:
            self._backstage = from_backstage(documents)
        except ValueError as error:
            log.error(
                "invalid Backstage catalog; keeping the last good catalog",
                extra={"error": str(error)},
            )
            return False
        self._merge()
        return True

    async def reload_service_graph(self) -> bool:
        """Query Prometheus; on any error keep the last good service graph."""
        if self._prometheus is None:
            return True
        samples: list[Sample] = []
        try:
            for expr in SERVICE_GRAPH_QUERIES:
                samples.extend(await self._prometheus.query(expr))
        except PrometheusError as error:
            log.warning(
                "cannot read the service graph from Prometheus; keeping the last one",
                extra={"error": str(error)},
            )
            return False
        self._service_graph = from_service_graph(
            [{"metric": s.labels, "value": [s.timestamp, repr(s.value)]} for s in samples]
        )
        self._merge()
        return True

    async def refresh(self) -> Topology:
        await asyncio.to_thread(self.reload_backstage)
        await self.reload_service_graph()
        log.info(
            "service topology refreshed",
            extra={
                "services": len(self._current),
                "edges": len(self._current.edges()),
                "backstage": len(self._backstage),
                "service_graph": len(self._service_graph),
            },
        )
        return self._current

    def _merge(self) -> None:
        self._current = merge(self._configured, self._backstage, self._service_graph)

    # ------------------------------------------------------------------ schedule

    def start(self) -> None:
        """Refresh now (Prometheus was not asked at build) and then on schedule."""
        if self._task is None and (self._patterns or self._prometheus is not None):
            self._task = asyncio.create_task(self._loop(), name="lookout-service-catalog")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._owned_http is not None:
            await self._owned_http.aclose()

    async def _loop(self) -> None:
        while True:
            try:
                await self.refresh()
            except Exception:
                log.exception("service topology refresh failed; keeping the last one")
            await asyncio.sleep(self._refresh_every.total_seconds())
