"""A small Loki HTTP API client: LogQL `query_range` for log lines.

`GET /loki/api/v1/query_range` with `query`, `start`/`end` (Unix nanoseconds), `limit` and
`direction`; a log query answers `resultType: streams`, each stream its labels and
`[nanosecond timestamp string, line]` values (a third element, structured metadata, may
follow and is ignored), as Loki's HTTP API documentation describes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx

from core.log_lines import LogLine


class LokiError(RuntimeError):
    """Loki could not answer: unreachable, bad status, or a query it rejected."""


class LokiUnreachableError(LokiError):
    """No answer from Loki at all."""


class LokiClient:
    def __init__(self, base_url: str, http: httpx.AsyncClient, *, timeout: float = 10) -> None:
        self.base_url = base_url.rstrip("/")
        self.http = http
        self.timeout = timeout

    async def query_range(
        self, query: str, *, start: datetime, end: datetime, limit: int = 1000
    ) -> list[LogLine]:
        """The lines `query` selects in [start, end], oldest first (at most `limit`, the
        newest ones when there are more)."""
        params = {
            "query": query,
            "start": str(int(start.timestamp() * 1e9)),
            "end": str(int(end.timestamp() * 1e9)),
            "limit": str(limit),
            "direction": "backward",
        }
        try:
            response = await self.http.get(
                f"{self.base_url}/loki/api/v1/query_range", params=params, timeout=self.timeout
            )
        except httpx.HTTPError as error:
            raise LokiUnreachableError(f"Loki is unreachable: {type(error).__name__}") from error
        if response.status_code >= 500 and "json" not in response.headers.get("content-type", ""):
            raise LokiUnreachableError(f"Loki answered HTTP {response.status_code}")
        try:
            body = response.json()
        except ValueError:
            reason = response.text.strip()[:200] or f"HTTP {response.status_code}"
            raise LokiError(f"query failed: {reason}") from None
        if not isinstance(body, dict) or body.get("status") != "success":
            said = body.get("error") if isinstance(body, dict) else None
            raise LokiError(f"query failed: {said or f'HTTP {response.status_code}'}")
        return parse_streams(body.get("data") or {})


def parse_streams(data: dict[str, Any]) -> list[LogLine]:
    if data.get("resultType") != "streams":
        raise LokiError(f"expected log streams, got {data.get('resultType')!r}")
    lines = []
    for stream in data.get("result") or []:
        labels = {str(k): str(v) for k, v in (stream.get("stream") or {}).items()}
        for value in stream.get("values") or []:
            if not isinstance(value, list) or len(value) < 2:
                raise LokiError(f"malformed log entry {value!r}")
            at = datetime.fromtimestamp(int(value[0]) / 1e9, tz=UTC)
            lines.append(LogLine(at=at, text=str(value[1]), labels=labels))
    lines.sort(key=lambda line: line.at)
    return lines
