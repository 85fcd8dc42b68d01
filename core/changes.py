"""Change events: a deploy, a config push, a feature flag, a scaling action or a manual step.

Every source (the generic webhook, GitHub, Argo CD, `change` typed in chat) becomes one
`ChangeEvent`. Its `id` is the source's own identity for the change (a GitHub deployment, an
Argo CD application at a revision), so a re-delivery or a later status of the same change is
the same event, never a second one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from core.wording import duration


class ChangeKind(StrEnum):
    DEPLOYMENT = "deployment"
    CONFIG = "config"
    FEATURE_FLAG = "feature-flag"
    SCALING = "scaling"
    MANUAL = "manual"


class ChangeStatus(StrEnum):
    """Where the change is: still rolling out, done, or failed (a failed rollout may still
    have changed some replicas, so it still counts as a change)."""

    IN_PROGRESS = "in_progress"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


_PAST = {
    ChangeKind.DEPLOYMENT: "deployed",
    ChangeKind.CONFIG: "reconfigured",
    ChangeKind.FEATURE_FLAG: "flag changed",
    ChangeKind.SCALING: "scaled",
    ChangeKind.MANUAL: "changed by hand",
}

_ENVIRONMENTS = {
    "prod": "production",
    "prd": "production",
    "live": "production",
    "stage": "staging",
    "stg": "staging",
    "dev": "development",
    "qa": "test",
}


def normalize_environment(name: str | None) -> str | None:
    """`prod`, `PRD` and `production` are one environment; empty is unknown (None)."""
    if name is None or not name.strip():
        return None
    lowered = name.strip().lower()
    return _ENVIRONMENTS.get(lowered, lowered)


_SERVICE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,254}$")


def check_service_name(name: str) -> str:
    """A service name as alerts carry it; raises ValueError for anything else."""
    stripped = name.strip()
    if not _SERVICE_NAME.match(stripped):
        raise ValueError(f"{name!r} is not a service name")
    return stripped


@dataclass(frozen=True)
class ChangeEvent:
    """One change, in event time (UTC). `services` are the catalog names it touched."""

    id: str
    kind: ChangeKind
    services: tuple[str, ...]
    started_at: datetime
    source: str
    finished_at: datetime | None = None
    status: ChangeStatus = ChangeStatus.SUCCEEDED
    environment: str | None = None
    version: str | None = None
    previous_version: str | None = None
    author: str | None = None
    url: str | None = None
    description: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.started_at.tzinfo is None:
            raise ValueError("change times must be timezone-aware")
        if self.finished_at is not None and self.finished_at < self.started_at:
            raise ValueError("finished_at is before started_at")
        if not self.services:
            raise ValueError("a change names at least one service")

    @property
    def landed_at(self) -> datetime:
        """When the change took effect: its end when known, else its start."""
        return self.finished_at or self.started_at

    def what(self) -> str:
        """`checkout v2.3.1 deployed`, `payments reconfigured`."""
        services = ", ".join(self.services[:3]) + (" …" if len(self.services) > 3 else "")
        version = f" {self.version}" if self.version else ""
        verb = _PAST[self.kind]
        if self.status is ChangeStatus.FAILED:
            verb += " (failed)"
        elif self.status is ChangeStatus.IN_PROGRESS:
            verb = {ChangeKind.DEPLOYMENT: "deploying"}.get(self.kind, verb + " (in progress)")
        return f"{services}{version} {verb}"

    def summary(self) -> str:
        """One line for a timeline or a root-cause factor: what, by whom, which version."""
        parts = [self.what()]
        if self.previous_version and self.version:
            parts.append(f"from {self.previous_version}")
        if self.author:
            parts.append(f"by {self.author}")
        if self.environment:
            parts.append(f"in {self.environment}")
        return " ".join(parts)

    def record(self) -> dict[str, Any]:
        """A JSON-ready record (for storage and snapshots); `from_record` reads it back."""
        return {
            "id": self.id,
            "kind": self.kind.value,
            "services": list(self.services),
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "status": self.status.value,
            "source": self.source,
            "environment": self.environment,
            "version": self.version,
            "previous_version": self.previous_version,
            "author": self.author,
            "url": self.url,
            "description": self.description,
            "labels": dict(self.labels),
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> ChangeEvent:
        finished = record.get("finished_at")
        return cls(
            id=str(record["id"]),
            kind=ChangeKind(record["kind"]),
            services=tuple(record["services"]),
            started_at=datetime.fromisoformat(record["started_at"]),
            finished_at=datetime.fromisoformat(finished) if finished else None,
            status=ChangeStatus(record.get("status", ChangeStatus.SUCCEEDED.value)),
            source=str(record.get("source", "webhook")),
            environment=record.get("environment"),
            version=record.get("version"),
            previous_version=record.get("previous_version"),
            author=record.get("author"),
            url=record.get("url"),
            description=record.get("description"),
            labels=dict(record.get("labels") or {}),
        )


def ago(at: datetime, reference: datetime) -> str:
    """`15 min before` / `2 min after` `reference`."""
    if at <= reference:
        return f"{duration(reference - at)} before"
    return f"{duration(at - reference)} after"
