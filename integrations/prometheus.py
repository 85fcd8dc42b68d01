"""A small Prometheus HTTP API client: instant and range queries.

`PrometheusClient.query` is the shape runbooks' promql steps expect (an async function from
an expression to samples), so a runbook can verify health against a live Prometheus.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx


def timed_out(error: BaseException) -> bool:
    """Whether `error` (or what caused it) is a timeout: the machine took the connection and
    did not answer in time, as opposed to refusing it or answering with an error."""
    current: BaseException | None = error
    for _ in range(10):
        if current is None:
            return False
        if isinstance(current, TimeoutError | httpx.TimeoutException):
            return True
        current = current.__cause__ or current.__context__
    return False


class PrometheusError(RuntimeError):
    """Prometheus could not answer: unreachable, bad status, or a query it rejected."""


class PrometheusUnreachableError(PrometheusError):
    """No answer from Prometheus at all: the connection failed or timed out, or something in
    front of it answered with no Prometheus reply (a proxy's 502)."""


class PrometheusQueryError(PrometheusError):
    """Prometheus answered and refused the query. `error_type` is the API's `errorType`
    (`bad_data` for a query it cannot parse, `execution`, `timeout`, `canceled`,
    `internal`, `unavailable`; empty when it gave none) and `reason` its `error` text."""

    def __init__(self, reason: str, *, error_type: str = "") -> None:
        super().__init__(f"query failed: {reason}")
        self.reason = reason
        self.error_type = error_type


@dataclass(frozen=True)
class Sample:
    labels: dict[str, str] = field(default_factory=dict)
    value: float = math.nan
    timestamp: float = 0.0


@dataclass(frozen=True)
class Series:
    """One series of a range query: its labels and (Unix seconds, value) points in order."""

    labels: dict[str, str]
    points: list[tuple[float, float]]

    @property
    def times(self) -> list[float]:
        return [t for t, _ in self.points]

    @property
    def values(self) -> list[float]:
        return [v for _, v in self.points]


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
        return parse_result(await self._get("/api/v1/query", params))

    async def query_range(
        self, expr: str, *, start: datetime, end: datetime, step: float
    ) -> list[Series]:
        """Range query (`/api/v1/query_range`) from `start` to `end` every `step` seconds;
        raises PrometheusError (PrometheusUnreachableError when nothing answered)."""
        params = {
            "query": expr,
            "start": f"{start.timestamp():.3f}",
            "end": f"{end.timestamp():.3f}",
            "step": f"{max(step, 0.001):g}",
        }
        data = await self._get("/api/v1/query_range", params)
        if data.get("resultType") != "matrix" or not isinstance(data.get("result"), list):
            raise PrometheusError(f"unexpected result type {data.get('resultType')!r}")
        return [
            Series(
                labels=dict(item.get("metric") or {}),
                points=[(float(t), float(v)) for t, v in item.get("values") or []],
            )
            for item in data["result"]
        ]

    async def _get(self, path: str, params: dict[str, str]) -> dict[str, Any]:
        try:
            response = await self.http.get(
                f"{self.base_url}{path}", params=params, timeout=self.timeout
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
            said = body if isinstance(body, dict) else {}
            raise PrometheusQueryError(
                str(said.get("error") or f"HTTP {response.status_code}"),
                error_type=str(said.get("errorType") or ""),
            )
        data = body.get("data") or {}
        if not isinstance(data, dict):
            raise PrometheusError("query failed: malformed answer")
        return data


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
