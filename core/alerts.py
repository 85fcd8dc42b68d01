"""Alert normalization: an Alertmanager webhook body becomes a list of `Alert`s.

Parsing is lenient where Alertmanager versions differ (missing `fingerprint`, `status` or
`groupKey`; extra fields such as `truncatedAlerts` or `notification_reason`) and strict where
a missing value would make the alert meaningless (labels, `startsAt`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from core.severity import Severity, parse_severity

SERVICE_LABELS = ("service", "job", "namespace")
SUMMARY_ANNOTATIONS = ("summary", "message", "description")

_FNV_OFFSET = 14695981039346656037
_FNV_PRIME = 1099511628211
_MASK64 = (1 << 64) - 1
_SEPARATOR = 0xFF
_TIMESTAMP = re.compile(
    r"^(?P<base>\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2})"
    r"(?:\.(?P<frac>\d+))?"
    r"(?P<tz>Z|z|[+-]\d{2}:?\d{2})?$"
)


def fingerprint(labels: dict[str, str]) -> str:
    """Alertmanager's fingerprint: FNV-1a 64 over sorted label pairs, as 16 hex digits.

    Same algorithm as prometheus/common `LabelSet.Fingerprint()`, so a computed fingerprint
    matches the one a newer Alertmanager would have sent for the same labels.
    """
    value = _FNV_OFFSET
    for name in sorted(labels):
        for part in (name, labels[name]):
            for byte in part.encode():
                value = ((value ^ byte) * _FNV_PRIME) & _MASK64
            value = ((value ^ _SEPARATOR) * _FNV_PRIME) & _MASK64
    return f"{value:016x}"


def parse_timestamp(text: str) -> datetime | None:
    """RFC 3339 with Go's nanoseconds; Go's zero time (year 1) means "not set"."""
    match = _TIMESTAMP.match(text.strip())
    if match is None:
        raise ValueError(f"not an RFC 3339 timestamp: {text!r}")
    if match["base"].startswith("0001-01-01"):
        return None
    frac = (match["frac"] or "")[:6].ljust(6, "0")
    tz = match["tz"] or "Z"
    tz = "+00:00" if tz in ("Z", "z") else (tz if ":" in tz else f"{tz[:3]}:{tz[3:]}")
    parsed = datetime.fromisoformat(f"{match['base'].replace(' ', 'T')}.{frac}{tz}")
    return parsed.astimezone(UTC)


class WebhookAlert(BaseModel):
    """One alert of an Alertmanager webhook (v4). Unknown fields are ignored."""

    model_config = ConfigDict(extra="ignore")

    status: Literal["firing", "resolved"] | None = None
    labels: dict[str, str]
    annotations: dict[str, str] = Field(default_factory=dict)
    starts_at: str = Field(alias="startsAt")
    ends_at: str | None = Field(default=None, alias="endsAt")
    generator_url: str | None = Field(default=None, alias="generatorURL")
    fingerprint: str | None = Field(default=None, max_length=64)

    @field_validator("labels")
    @classmethod
    def _labels_not_empty(cls, labels: dict[str, str]) -> dict[str, str]:
        if not labels:
            raise ValueError("an alert needs at least one label")
        return labels

    @field_validator("starts_at", "ends_at")
    @classmethod
    def _timestamp(cls, value: str | None) -> str | None:
        if value is not None:
            parse_timestamp(value)
        return value


class WebhookPayload(BaseModel):
    """Alertmanager's webhook body (`notify/webhook.Message`)."""

    model_config = ConfigDict(extra="ignore")

    version: str | None = None
    group_key: str | None = Field(default=None, alias="groupKey")
    status: Literal["firing", "resolved"] | None = None
    receiver: str | None = None
    group_labels: dict[str, str] = Field(default_factory=dict, alias="groupLabels")
    common_labels: dict[str, str] = Field(default_factory=dict, alias="commonLabels")
    common_annotations: dict[str, str] = Field(default_factory=dict, alias="commonAnnotations")
    external_url: str | None = Field(default=None, alias="externalURL")
    alerts: list[WebhookAlert] = Field(min_length=1)


@dataclass(frozen=True)
class Alert:
    """An alert as Lookout understands it. Times are event times (UTC)."""

    fingerprint: str
    status: Literal["firing", "resolved"]
    starts_at: datetime
    ends_at: datetime | None
    labels: dict[str, str]
    annotations: dict[str, str] = field(default_factory=dict)
    group_key: str | None = None
    generator_url: str | None = None
    receiver: str | None = None

    @property
    def name(self) -> str:
        return self.labels.get("alertname", "unnamed alert")

    @property
    def severity(self) -> Severity:
        return parse_severity(self.labels.get("severity"))

    @property
    def service(self) -> str | None:
        return service_of(self.labels)

    @property
    def summary(self) -> str:
        for key in SUMMARY_ANNOTATIONS:
            if self.annotations.get(key):
                return self.annotations[key]
        return self.name

    @property
    def firing(self) -> bool:
        return self.status == "firing"


def service_of(labels: dict[str, str]) -> str | None:
    """The service an alert is about: `service`, else `job`, else `namespace`."""
    for key in SERVICE_LABELS:
        if labels.get(key):
            return labels[key]
    return None


def _fingerprints(items: list[WebhookAlert]) -> list[str]:
    """The sender's fingerprints where they can be trusted, computed ones elsewhere.

    Alertmanager's fingerprint is the hash of the labels, so it is computed when missing and
    also when one batch gives the same fingerprint to different label sets (a sender that
    copied it, as some public payloads do) — two alerts must never collapse into one.
    """
    labels_by_given: dict[str, dict[str, str]] = {}
    clashing: set[str] = set()
    for item in items:
        if item.fingerprint:
            seen = labels_by_given.setdefault(item.fingerprint, item.labels)
            if seen != item.labels:
                clashing.add(item.fingerprint)
    return [
        item.fingerprint.lower()
        if item.fingerprint and item.fingerprint not in clashing
        else fingerprint(item.labels)
        for item in items
    ]


def normalize(payload: WebhookPayload) -> list[Alert]:
    """Turn a parsed webhook body into alerts, filling what older Alertmanagers left out."""
    alerts = []
    for item, identity in zip(payload.alerts, _fingerprints(payload.alerts), strict=True):
        starts_at = parse_timestamp(item.starts_at)
        if starts_at is None:
            raise ValueError("startsAt must be a real time, not Go's zero time")
        ends_at = parse_timestamp(item.ends_at) if item.ends_at else None
        status = item.status or payload.status or "firing"
        alerts.append(
            Alert(
                fingerprint=identity,
                status=status,
                starts_at=starts_at,
                ends_at=ends_at,
                labels=dict(item.labels),
                annotations=dict(item.annotations),
                group_key=payload.group_key,
                generator_url=item.generator_url,
                receiver=payload.receiver,
            )
        )
    return alerts


def parse_webhook(body: Any) -> list[Alert]:
    """Validate a decoded JSON body and normalize it (raises pydantic.ValidationError)."""
    return normalize(WebhookPayload.model_validate(body))
