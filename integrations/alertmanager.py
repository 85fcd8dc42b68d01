"""Alertmanager's API v2: silences (`POST /api/v2/silences`, `DELETE /api/v2/silence/{id}`).

A silence mutes alerts whose labels match every matcher from `startsAt` to `endsAt`
(prometheus.io/docs/alerting/latest/alertmanager, "Silences"; the API is the OpenAPI
document in the Alertmanager repository, api/v2/openapi.yaml).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import httpx

# Labels Lookout or Alertmanager add that are not on the alert as Prometheus sends it.
SKIPPED_LABELS = frozenset({"__alert_id__"})


class AlertmanagerError(Exception):
    """Alertmanager did not do what was asked; the message says why, in one sentence."""


def matchers_for(labels: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Equality matchers on every label: the silence mutes exactly this alert."""
    return [
        {"name": name, "value": str(value), "isRegex": False, "isEqual": True}
        for name, value in sorted(labels.items())
        if name not in SKIPPED_LABELS and str(value) != ""
    ]


class SilenceClient:
    def __init__(self, base_url: str, http: httpx.AsyncClient, *, timeout: float = 5.0) -> None:
        self._base = base_url.rstrip("/")
        self._http = http
        self._timeout = timeout

    async def create(
        self,
        *,
        matchers: list[dict[str, Any]],
        starts_at: datetime,
        ends_at: datetime,
        created_by: str,
        comment: str,
    ) -> str:
        """Create a silence; returns its id. Raises AlertmanagerError."""
        body = {
            "matchers": matchers,
            "startsAt": starts_at.isoformat(),
            "endsAt": ends_at.isoformat(),
            "createdBy": created_by,
            "comment": comment,
        }
        answer = await self._call("POST", "/api/v2/silences", json=body)
        silence_id = answer.get("silenceID") if isinstance(answer, dict) else None
        if not silence_id:
            raise AlertmanagerError("Alertmanager accepted the silence but gave no id")
        return str(silence_id)

    async def expire(self, silence_id: str) -> None:
        """End a silence now (Alertmanager keeps it, expired). Raises AlertmanagerError."""
        await self._call("DELETE", f"/api/v2/silence/{silence_id}")

    async def get(self, silence_id: str) -> dict[str, Any]:
        answer = await self._call("GET", f"/api/v2/silence/{silence_id}")
        if not isinstance(answer, dict):
            raise AlertmanagerError("Alertmanager answered something other than a silence")
        return answer

    async def _call(self, method: str, path: str, json: Any = None) -> Any:
        try:
            response = await self._http.request(
                method, self._base + path, json=json, timeout=self._timeout
            )
        except httpx.HTTPError as error:
            raise AlertmanagerError(
                f"Alertmanager at {self._base} could not be reached ({type(error).__name__})"
            ) from error
        if not response.is_success:
            detail = response.text.strip()[:200]
            raise AlertmanagerError(f"Alertmanager answered HTTP {response.status_code}: {detail}")
        return response.json() if response.content else None
