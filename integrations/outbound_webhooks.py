"""Outbound webhooks: an incident's page as JSON to a URL, signed with HMAC-SHA256.

The signature follows Stripe's scheme (stripe.com/docs/webhooks, "Verify signatures
manually"): `X-Lookout-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">`
under the webhook's secret, so a receiver can reject replays older than it tolerates.
`X-Lookout-Delivery` is the same for every retry of one notification (receivers dedup on it).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime
from typing import Any

import httpx

from integrations.sending import post_json

SIGNATURE_HEADER = "X-Lookout-Signature"
DELIVERY_HEADER = "X-Lookout-Delivery"


def sign(secret: str, body: bytes, at: datetime) -> str:
    """The signature header's value for `body` sent at `at`."""
    timestamp = int(at.timestamp())
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


def signature_valid(
    secret: str, body: bytes, header: str | None, *, now: datetime, tolerance: float = 300
) -> bool:
    """What a receiver checks: a `v1` that matches and a timestamp within `tolerance` s."""
    parts = dict(part.split("=", 1) for part in (header or "").split(",") if "=" in part)
    try:
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs(now.timestamp() - timestamp) > tolerance:
        return False
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return hmac.compare_digest(expected.hexdigest(), parts.get("v1", ""))


class WebhookSender:
    """POSTs signed JSON. Raises `integrations.sending.SendError` unless the receiver
    answered 2xx (408, 429 and 5xx are transient, with Retry-After when given)."""

    def __init__(self, http: httpx.AsyncClient, *, timeout: float = 10.0) -> None:
        self._http = http
        self._timeout = timeout

    async def send(
        self,
        *,
        name: str,
        url: str,
        secret: str | None,
        document: dict[str, Any],
        delivery: str,
        now: datetime,
    ) -> int:
        body = json.dumps(document, separators=(",", ":"), default=str).encode()
        headers = {DELIVERY_HEADER: delivery, "user-agent": "Lookout"}
        if secret:
            headers[SIGNATURE_HEADER] = sign(secret, body, now)
        response = await post_json(
            self._http,
            url,
            content=body,
            headers=headers,
            what=f"webhook {name}",
            seconds=self._timeout,
        )
        return response.status_code
