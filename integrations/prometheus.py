"""A small Prometheus HTTP API client: instant queries.

`PrometheusClient.query` is the shape runbooks' promql steps expect (an async function from
an expression to samples), so a runbook can verify health against a live Prometheus.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx


class PrometheusError(RuntimeError):
    """Prometheus could not answer: unreachable, bad status, or a query it rejected."""


class PrometheusUnreachableError(PrometheusError):
    """No answer from Prometheus at all: the connection failed or timed out, or something in
    front of it answered with no Prometheus reply (a proxy's 502)."""


@dataclass(frozen=True)
class Sample:
    labels: dict[str, str] = field(default_factory=dict)
    value: float = math.nan
    timestamp: float = 0.0


class PrometheusClient:
    def __init__(self, base_url: str, http: httpx.AsyncClient, *, timeout: float = 10) -> None:
        self.base_url = base_url.rstrip("/")
        self.http = http
        self.timeout = timeout

    async def query(self, expr: str, *, at: datetime | None = None) -> list[Sample]:
        """Instant query (`/api/v1/query`): a vector gives one sample per series, a scalar one
        sample without labels."""
        params = {"query": expr}
        if at is not None:
            params["time"] = f"{at.timestamp():.3f}"
        try:
            response = await self.http.get(
                f"{self.base_url}/api/v1/query", params=params, timeout=self.timeout
            )
        except httpx.HTTPError as error:
            raise PrometheusUnreachableError(
                f"Prometheus is unreachable: {type(error).__name__}"
            ) from error
        try:
            body = response.json()
        except ValueError:
            raise PrometheusUnreachableError(
                f"Prometheus answered HTTP {response.status_code}"
            ) from None
        if not isinstance(body, dict) or body.get("status") != "success":
            reason = body.get("error") if isinstance(body, dict) else None
            raise PrometheusError(f"query failed: {reason or f'HTTP {response.status_code}'}")
        return parse_result(body.get("data") or {})


def parse_result(data: dict[str, Any]) -> list[Sample]:
    kind = data.get("resultType")
    result = data.get("result")
    if kind == "vector" and isinstance(result, list):
        return [_sample(item.get("metric") or {}, item.get("value")) for item in result]
    if kind == "scalar":
        return [_sample({}, result)]
    if kind == "matrix":
        raise PrometheusError("a range vector cannot be checked as an instant condition")
    raise PrometheusError(f"unexpected result type {kind!r}")


def _sample(labels: dict[str, str], pair: Any) -> Sample:
    if not isinstance(pair, list) or len(pair) != 2:
        raise PrometheusError(f"malformed sample {pair!r}")
    timestamp, value = pair
    return Sample(labels=dict(labels), value=float(value), timestamp=float(timestamp))
