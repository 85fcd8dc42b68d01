"""Alert normalization: an Alertmanager (or Grafana) webhook body becomes a `Delivery`.

Parsing is lenient where senders differ (missing `fingerprint`, `status`, `groupKey` or
`groupLabels`; extra fields such as `notification_reason`; numbers or booleans where strings
belong) and strict where a missing value would make the alert meaningless (labels, `startsAt`).
One broken alert does not sink its batch: the others are accepted and the broken one is named
with its reason. Every text is made storable on any database: NUL characters and lone UTF-16
surrogates (which JSON can carry and PostgreSQL refuses) become U+FFFD.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from core.severity import Severity, parse_severity
from core.text import GROUP_KEY_LIMIT, bounded

# Which label names the service an alert is about, first match wins: the common conventions
# (Prometheus `service`/`job`, OpenTelemetry `service.name` and its Prometheus spelling
# `service_name`, the Kubernetes recommended `app.kubernetes.io/name` and its Prometheus
# spelling, the older `app`/`k8s_app`), then the namespace as a last resort.
DEFAULT_SERVICE_LABELS = (
    "service",
    "service.name",
    "service_name",
    "app.kubernetes.io/name",
    "app_kubernetes_io_name",
    "app",
    "k8s_app",
    "job",
    "namespace",
)
SUMMARY_ANNOTATIONS = ("summary", "message", "description")
# The largest count a sender may give (`truncatedAlerts`): what a SQL INTEGER column holds.
MAX_COUNT = 2**31 - 1
_UNSET = "\x00unset"
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
# `name="value"` pairs as Go's %q writes them in a groupKey's last `{…}`.
_GROUP_PAIR = re.compile(r'([^\s{},=]+)="((?:[^"\\]|\\.)*)"')

_FNV_OFFSET = 14695981039346656037
_FNV_PRIME = 1099511628211
_MASK64 = (1 << 64) - 1
_SEPARATOR = 0xFF
# A sender's clock may run this far ahead of Lookout's; a startsAt further ahead is a wrong
# clock or a made-up time, and the receive time stands in for it.
CLOCK_SKEW = timedelta(minutes=5)
# Prometheus and Alertmanager count time from the Unix epoch: an earlier time is a zero or
# garbage value (Go's zero time, 0001-01-01, and its neighbours), read as "not set".
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
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
    """RFC 3339 with Go's nanoseconds; Go's zero time (year 1) means "not set". Raises
    ValueError for text that is not such a time, or one that leaves years 1–9999 in UTC."""
    match = _TIMESTAMP.match(text.strip())
    if match is None:
        raise ValueError(f"not an RFC 3339 timestamp: {text!r}")
    if match["base"].startswith("0001-01-01"):
        return None
    frac = (match["frac"] or "")[:6].ljust(6, "0")
    tz = match["tz"] or "Z"
    tz = "+00:00" if tz in ("Z", "z") else (tz if ":" in tz else f"{tz[:3]}:{tz[3:]}")
    parsed = datetime.fromisoformat(f"{match['base'].replace(' ', 'T')}.{frac}{tz}")
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"{text!r} is outside years 1 to 9999 in UTC") from None


def event_time(text: str | None) -> datetime | None:
    """An alert's time as Lookout uses it: None when unset — absent, Go's zero time, or any
    time before the Unix epoch. Raises ValueError as `parse_timestamp` does."""
    if not text:
        return None
    parsed = parse_timestamp(text)
    return parsed if parsed is not None and parsed >= EARLIEST else None


def storable(text: str) -> str:
    """`text` with NUL characters and lone UTF-16 surrogates replaced by U+FFFD."""
    return _UNSTORABLE.sub("\ufffd", text) if _UNSTORABLE.search(text) else text


def _text_map(value: Any, *, labels: bool = False) -> Any:
    """Label and annotation maps as senders write them: scalar values become text (vmalert
    and hand-written payloads send numbers and booleans), null values are dropped, and every
    key and value is made storable. In `labels`, an empty value is dropped too: for
    Prometheus a label with an empty value is a label not set. Anything that is not a map is
    left for validation."""
    if not isinstance(value, dict):
        return value
    result: dict[str, str] = {}
    for key, item in value.items():
        if item is None:
            continue
        if isinstance(item, bool):
            item = "true" if item else "false"
        elif isinstance(item, int | float):
            item = str(item)
        if not isinstance(item, str) or not isinstance(key, str):
            return value  # a nested object: let validation name it
        if labels and not item.strip():
            continue
        result[storable(key)] = storable(item)
    return result


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

    @field_validator("labels", mode="before")
    @classmethod
    def _label_texts(cls, value: Any) -> Any:
        return _text_map(value, labels=True)

    @field_validator("annotations", mode="before")
    @classmethod
    def _texts(cls, value: Any) -> Any:
        return _text_map(value)

    @field_validator("status", mode="before")
    @classmethod
    def _status(cls, value: Any) -> Any:
        # Grafana and some proxies write "Firing"/"RESOLVED"; an unknown word is left to fail.
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("labels")
    @classmethod
    def _labels_not_empty(cls, labels: dict[str, str]) -> dict[str, str]:
        if not labels:
            raise ValueError("an alert needs at least one label with a value")
        return labels

    @field_validator("starts_at", "ends_at")
    @classmethod
    def _timestamp(cls, value: str | None) -> str | None:
        if value is not None:
            parse_timestamp(value)
        return value

    @field_validator("generator_url")
    @classmethod
    def _storable(cls, value: str | None) -> str | None:
        return storable(value) if value is not None else None


class WebhookPayload(BaseModel):
    """Alertmanager's webhook body (`notify/webhook.Message`); `alerts` are validated one by
    one by `parse_delivery`, so a broken one does not reject the others."""

    model_config = ConfigDict(extra="ignore")

    version: str | None = None
    group_key: str | None = Field(default=None, alias="groupKey")
    truncated_alerts: int = Field(default=0, ge=0, le=MAX_COUNT, alias="truncatedAlerts")
    status: Literal["firing", "resolved"] | None = None
    receiver: str | None = None
    group_labels: dict[str, str] | None = Field(default=None, alias="groupLabels")
    common_labels: dict[str, str] = Field(default_factory=dict, alias="commonLabels")
    common_annotations: dict[str, str] = Field(default_factory=dict, alias="commonAnnotations")
    external_url: str | None = Field(default=None, alias="externalURL")
    alerts: list[Any] = Field(min_length=1)

    @field_validator("group_labels", "common_labels", mode="before")
    @classmethod
    def _label_texts(cls, value: Any) -> Any:
        return _text_map(value, labels=True)

    @field_validator("common_annotations", mode="before")
    @classmethod
    def _texts(cls, value: Any) -> Any:
        return _text_map(value)

    @field_validator("group_key", "receiver")
    @classmethod
    def _storable(cls, value: str | None) -> str | None:
        return storable(value) if value is not None else None

    @field_validator("status", mode="before")
    @classmethod
    def _status(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("truncated_alerts", mode="before")
    @classmethod
    def _count(cls, value: Any) -> Any:
        return 0 if value is None else value


@dataclass(frozen=True)
class Alert:
    """An alert as Lookout understands it. Times are event times (UTC).

    `service` is the first of the configured service labels the alert carries (computed from
    `DEFAULT_SERVICE_LABELS` when not given); `group_labels` are the labels of its
    Alertmanager group (`groupLabels`, or read from the `groupKey`), None when unknown."""

    fingerprint: str
    status: Literal["firing", "resolved"]
    starts_at: datetime
    ends_at: datetime | None
    labels: dict[str, str]
    annotations: dict[str, str] = field(default_factory=dict)
    group_key: str | None = None
    generator_url: str | None = None
    receiver: str | None = None
    service: str | None = _UNSET
    group_labels: dict[str, str] | None = None

    def __post_init__(self) -> None:
        if self.service == _UNSET:
            object.__setattr__(self, "service", service_of(self.labels))

    @property
    def name(self) -> str:
        return self.labels.get("alertname") or "unnamed alert"

    @property
    def severity(self) -> Severity:
        return parse_severity(self.labels.get("severity"))

    @property
    def summary(self) -> str:
        for key in SUMMARY_ANNOTATIONS:
            if self.annotations.get(key):
                return self.annotations[key]
        return self.name

    @property
    def firing(self) -> bool:
        return self.status == "firing"


def service_of(labels: dict[str, str], names: Sequence[str] = DEFAULT_SERVICE_LABELS) -> str | None:
    """The service an alert is about: the value of the first of `names` it carries."""
    for key in names:
        if labels.get(key):
            return labels[key]
    return None


def group_labels_of(group_key: str | None) -> dict[str, str] | None:
    """The group labels written in an Alertmanager groupKey (`{route…}:{name="value", …}`),
    or None when the key has no such part (a sender that invents its own keys)."""
    if not group_key or not group_key.endswith("}"):
        return None
    start = group_key.rfind(":{")
    if start < 0:
        return None
    inner = group_key[start + 2 : -1]
    pairs = _GROUP_PAIR.findall(inner)
    if not pairs and inner.strip():
        return None
    return {name: _unquote(value) for name, value in pairs}


def _unquote(value: str) -> str:
    return re.sub(r"\\(.)", r"\1", value)


@dataclass(frozen=True)
class Rejected:
    """An alert of a delivery that could not be read: its index in `alerts`, the field at
    fault ("" for the alert as a whole) and why."""

    index: int
    message: str
    field: str = ""

    @property
    def reason(self) -> str:
        """`alerts.3.startsAt: Field required`, the way the body names the field."""
        where = f"alerts.{self.index}" + (f".{self.field}" if self.field else "")
        return f"{where}: {self.message}"


@dataclass(frozen=True)
class Adjusted:
    """An alert of a delivery whose `startsAt` lay in the future beyond `CLOCK_SKEW`: its
    index in `alerts`, its fingerprint, the time it gave and the receive time used instead."""

    index: int
    fingerprint: str
    given: datetime
    used: datetime

    @property
    def reason(self) -> str:
        """`alerts.0.startsAt: … is in the future; …`, the way the body names the field."""
        return (
            f"alerts.{self.index}.startsAt: {self.given.isoformat()} is in the future; "
            f"the receive time {self.used.isoformat()} was used"
        )

    @property
    def note(self) -> str:
        """The sentence for the incident's timeline."""
        return (
            f"An alert said it started at {self.given:%Y-%m-%d %H:%M:%S} UTC, in the future "
            f"(a sender's clock off?); Lookout used the time it arrived, "
            f"{self.used:%Y-%m-%d %H:%M:%S} UTC."
        )


@dataclass(frozen=True)
class Delivery:
    """One webhook body: its readable alerts, the ones it could not read, how many alerts
    Alertmanager left out of it (`truncatedAlerts`, its `max_alerts` setting), and the
    alerts whose future `startsAt` was replaced by the receive time (`adjusted`)."""

    alerts: list[Alert]
    rejected: list[Rejected] = field(default_factory=list)
    truncated_alerts: int = 0
    group_key: str | None = None
    adjusted: list[Adjusted] = field(default_factory=list)


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
        storable(item.fingerprint.lower())
        if item.fingerprint and item.fingerprint not in clashing
        else fingerprint(item.labels)
        for item in items
    ]


def _rejected(index: int, error: ValidationError) -> Rejected:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"])
    message = str(first["msg"]).removeprefix("Value error, ")
    return Rejected(index, message, where)


def parse_delivery(
    body: Any,
    *,
    service_labels: Sequence[str] = DEFAULT_SERVICE_LABELS,
    now: datetime | None = None,
) -> Delivery:
    """Validate a decoded JSON body and normalize its alerts, received at `now` (the
    current time when not given).

    Times before the Unix epoch are unset: such a `startsAt` rejects its alert, such an
    `endsAt` is none. A `startsAt` more than `CLOCK_SKEW` after `now` becomes `now` (named
    in `adjusted`); so does the `endsAt` of a resolved alert.

    Raises pydantic.ValidationError when the envelope is not a webhook message, and
    ValueError when no alert of it can be read; otherwise broken alerts are in `rejected`."""
    received = now or datetime.now(UTC)
    payload = WebhookPayload.model_validate(body)
    read: list[tuple[int, WebhookAlert]] = []
    rejected: list[Rejected] = []
    for index, raw in enumerate(payload.alerts):
        try:
            item = WebhookAlert.model_validate(raw)
            if event_time(item.starts_at) is None:
                raise ValueError(
                    "startsAt must be a real time, not Go's zero time or one before 1970"
                )
        except ValidationError as error:
            rejected.append(_rejected(index, error))
            continue
        except ValueError as error:
            rejected.append(Rejected(index, str(error), "startsAt"))
            continue
        read.append((index, item))
    if not read:
        reasons = "; ".join(item.reason for item in rejected[:3])
        more = f" and {len(rejected) - 3} more" if len(rejected) > 3 else ""
        raise ValueError(f"no alert of the body can be read: {reasons}{more}")
    group_labels = payload.group_labels
    if group_labels is None:
        group_labels = group_labels_of(payload.group_key)
    group_key = bounded(payload.group_key, GROUP_KEY_LIMIT) if payload.group_key else None
    items = [item for _, item in read]
    alerts = []
    adjusted = []
    latest = received + CLOCK_SKEW
    for (index, item), identity in zip(read, _fingerprints(items), strict=True):
        starts_at = event_time(item.starts_at)
        assert starts_at is not None
        if starts_at > latest:
            adjusted.append(Adjusted(index, identity, starts_at, received))
            starts_at = received
        ends_at = event_time(item.ends_at)
        status = item.status or payload.status or "firing"
        if status == "resolved" and ends_at is not None and ends_at > latest:
            ends_at = received
        alerts.append(
            Alert(
                fingerprint=identity,
                status=status,
                starts_at=starts_at,
                ends_at=ends_at,
                labels=dict(item.labels),
                annotations=dict(item.annotations),
                group_key=group_key,
                generator_url=item.generator_url,
                receiver=payload.receiver,
                service=service_of(item.labels, service_labels),
                group_labels=group_labels,
            )
        )
    return Delivery(
        alerts=alerts,
        rejected=rejected,
        truncated_alerts=payload.truncated_alerts,
        group_key=group_key,
        adjusted=adjusted,
    )


def parse_webhook(body: Any) -> list[Alert]:
    """Every alert of a body, or an error: pydantic.ValidationError for a body that is not a
    webhook message, ValueError when any alert of it cannot be read."""
    delivery = parse_delivery(body)
    if delivery.rejected:
        raise ValueError(delivery.rejected[0].reason)
    return delivery.alerts
