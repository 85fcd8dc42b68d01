"""The `capacity:` section of LOOKOUT_CONFIG: which resources to forecast, and when a
forecast is worth someone's attention.

```yaml
capacity:
  resources:
    - name: "db-1 disk"
      service: postgres
      usage: node_filesystem_size_bytes{instance="db-1"} - node_filesystem_free_bytes{…}
      limit: node_filesystem_size_bytes{instance="db-1"}   # PromQL or a number
      request: 500e9         # optional: what was asked for (over-provisioning is judged on it)
```
"""

from __future__ import annotations

from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator


class CapacityResource(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=128)
    service: str | None = Field(default=None, max_length=255)
    usage: str = Field(min_length=1, description="PromQL: usage now, one series")
    limit: str | float = Field(description="PromQL or a number: what usage may reach")
    request: str | float | None = Field(
        default=None, description="PromQL or a number: what was reserved (default: limit)"
    )


class CapacityRules(BaseModel):
    """Every field but `resources` optional; these are the defaults."""

    model_config = ConfigDict(extra="forbid")

    resources: list[CapacityResource] = Field(default_factory=list)
    lookback_days: float = Field(default=14, gt=0, le=90, description="history fitted")
    step_minutes: float = Field(default=60, ge=1, le=24 * 60, description="sample spacing")
    horizon_days: float = Field(default=30, gt=0, le=365, description="how far to look ahead")
    levels: list[float] = Field(default_factory=lambda: [0.8, 0.9, 1.0])
    alert_level: float = Field(default=0.9, gt=0, le=1.5, description="share that matters")
    critical_days: float = Field(default=7, gt=0, description="reaching it sooner: critical")
    warning_days: float = Field(default=30, gt=0, description="reaching it sooner: warning")
    overprovisioned_below: float = Field(
        default=0.3, gt=0, lt=1, description="p95 usage under this share of the request"
    )
    incident_severity: str = Field(default="warning", description="of capacity incidents")
    evaluate_minutes: float = Field(default=60, ge=0.25, description="how often to forecast")

    @model_validator(mode="after")
    def _unique(self) -> Self:
        names = [resource.name for resource in self.resources]
        if len(names) != len(set(names)):
            raise ValueError("capacity resource names must be unique")
        if self.critical_days > self.warning_days:
            raise ValueError("critical_days must not exceed warning_days")
        return self
