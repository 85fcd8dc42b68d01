"""PagerDuty: the Events API v2 out (trigger, acknowledge, resolve) and Webhooks v3 back.

Events API v2 (developer.pagerduty.com, "Events API v2 Overview"): `POST /v2/enqueue` with a
32-character `routing_key`, `event_action`, a `dedup_key` tying acknowledge and resolve to the
trigger, and for a trigger a `payload` (`summary`, `source`, `severity` one of critical,
error, warning, info; `custom_details`) plus `links`. PagerDuty answers 202; 400 means the
event is invalid (never retried), 429 and 5xx are retried with backoff.

Webhooks v3 signatures ("Verifying Signatures"): `X-PagerDuty-Signature` holds one or more
comma-separated `v1=<hex>` entries, each the HMAC-SHA256 of the raw body under one of the
subscription's secrets; a body is genuine when any matches.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

from integrations.sending import SendError, post_json

EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"
SEVERITIES = {"critical": "critical", "error": "error", "warning": "warning", "info": "info"}
DEDUP_PREFIX = "lookout/"
_INCIDENT_REF = re.compile(r"\bINC-(\d{1,18})\b")
_DEDUP = re.compile(r"^lookout/INC-(\d{1,18})$")
MAX_SUMMARY = 1024  # PagerDuty truncates summaries past this


def dedup_key(incident_id: int) -> str:
    """The incident's dedup key: `lookout/INC-42` (every episode of it shares the key;
    PagerDuty opens a new alert for a trigger after a resolve)."""
    return f"{DEDUP_PREFIX}INC-{incident_id}"


def pagerduty_severity(severity: str) -> str:
    """Lookout's severity in PagerDuty's four words (unknown words are warnings)."""
    return SEVERITIES.get(severity, "warning")


@dataclass(frozen=True)
class TriggerEvent:
    """What a trigger says about an incident."""

    incident_id: int
    summary: str
    source: str
    severity: str
    timestamp: datetime
    component: str | None = None
    group: str | None = None
    details: dict[str, Any] | None = None
    links: tuple[tuple[str, str], ...] = ()  # (href, text)


class PagerDutyEvents:
    """A client of the Events API v2 for one routing key.

    Every call raises `SendError` when PagerDuty did not accept the event: permanent for 4xx
    other than 429 (the event will never be accepted), transient otherwise."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        routing_key: str,
        url: str | None = None,
        timeout: float = 10.0,
        client_url: str | None = None,
    ) -> None:
        self._http = http
        self._routing_key = routing_key
        self._url = url or EVENTS_URL
        self._timeout = timeout
        self._client_url = client_url

    async def trigger(self, event: TriggerEvent) -> str:
        """Open (or add to) PagerDuty's alert for the incident; returns the dedup key."""
        payload: dict[str, Any] = {
            "summary": event.summary[:MAX_SUMMARY],
            "source": event.source[:255] or "lookout",
            "severity": pagerduty_severity(event.severity),
            "timestamp": event.timestamp.isoformat(),
            "custom_details": event.details or {},
        }
        if event.component:
            payload["component"] = event.component[:255]
        if event.group:
            payload["group"] = event.group[:255]
        body: dict[str, Any] = {
            "routing_key": self._routing_key,
            "event_action": "trigger",
            "dedup_key": dedup_key(event.incident_id),
            "payload": payload,
            "client": "Lookout",
        }
        if self._client_url:
            body["client_url"] = self._client_url
        if event.links:
            body["links"] = [{"href": href, "text": text} for href, text in event.links]
        return await self._send(body)

    async def acknowledge(self, incident_id: int) -> str:
        return await self._send(self._follow_up("acknowledge", incident_id))

    async def resolve(self, incident_id: int) -> str:
        return await self._send(self._follow_up("resolve", incident_id))

    def _follow_up(self, action: str, incident_id: int) -> dict[str, Any]:
        return {
            "routing_key": self._routing_key,
            "event_action": action,
            "dedup_key": dedup_key(incident_id),
        }

    async def _send(self, body: dict[str, Any]) -> str:
        response = await post_json(
            self._http,
            self._url,
            content=json.dumps(body).encode(),
            headers={},
            what="PagerDuty",
            seconds=self._timeout,
        )
        try:
            answer = response.json()
        except ValueError:
            answer = {}
        return str((answer or {}).get("dedup_key") or body["dedup_key"])


# --- Webhooks v3 ---


class SignatureError(ValueError):
    """`missing`: no usable signature header (400); otherwise none matched (403)."""

    def __init__(self, reason: str, *, missing: bool) -> None:
        super().__init__(reason)
        self.missing = missing


def verify_signature(secrets: list[str], body: bytes, header: str | None) -> None:
    """Check `X-PagerDuty-Signature` against the raw body; raises SignatureError."""
    given = [
        part.strip()[3:]
        for part in (header or "").split(",")
        if part.strip().startswith("v1=") and len(part.strip()) > 3
    ]
    if not given:
        raise SignatureError("missing or garbled X-PagerDuty-Signature", missing=True)
    # An empty secret is skipped: anyone can sign with it.
    for secret in filter(None, secrets):
        expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest().encode()
        # As bytes: compare_digest refuses str with characters past ASCII, which a header
        # can hold.
        if any(
            hmac.compare_digest(expected, candidate.lower().encode("utf-8", "replace"))
            for candidate in given
        ):
            return
    raise SignatureError("X-PagerDuty-Signature does not match", missing=False)


@dataclass(frozen=True)
class WebhookEvent:
    """A Webhooks v3 event about a PagerDuty incident, with the Lookout incident it is
    about when it names one (its alert's dedup key, else `INC-n` in its title)."""

    event_id: str
    event_type: str
    occurred_at: str | None
    agent: str | None
    pagerduty_incident: str | None
    title: str | None
    incident_id: int | None


def parse_webhook(document: Any) -> WebhookEvent:
    """Read a v3 webhook body (`{"event": {...}}`); ValueError when it is not one."""
    if not isinstance(document, dict) or not isinstance(document.get("event"), dict):
        raise ValueError("a PagerDuty v3 webhook body is an object with an `event` object")
    event = document["event"]
    event_type = event.get("event_type")
    if not isinstance(event_type, str) or not event_type:
        raise ValueError("event.event_type is missing")
    data = event.get("data") if isinstance(event.get("data"), dict) else {}
    agent = event.get("agent") if isinstance(event.get("agent"), dict) else None
    title = data.get("title") if isinstance(data.get("title"), str) else None
    incident_id = None
    key = data.get("incident_key")
    if (isinstance(key, str) and (match := _DEDUP.match(key))) or (
        title and (match := _INCIDENT_REF.search(title))
    ):
        incident_id = int(match[1])
    return WebhookEvent(
        event_id=str(event.get("id") or ""),
        event_type=event_type,
        occurred_at=str(event["occurred_at"])
        if isinstance(event.get("occurred_at"), str)
        else None,
        agent=str(agent.get("summary")) if agent and agent.get("summary") else None,
        pagerduty_incident=str(data.get("id")) if data.get("id") else None,
        title=title,
        incident_id=incident_id,
    )


__all__ = [
    "PagerDutyEvents",
    "SendError",
    "SignatureError",
    "TriggerEvent",
    "WebhookEvent",
    "dedup_key",
    "parse_webhook",
    "verify_signature",
]
