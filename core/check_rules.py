"""The `checks:` section of LOOKOUT_CONFIG: PromQL watched against a learned baseline, so a
problem nobody wrote an alert rule for still becomes a signal.

```yaml
checks:
  - name: checkout latency p99
    service: checkout
    query: histogram_quantile(0.99, sum by (le) (rate(latency_seconds_bucket{job="checkout"}[5m])))
    direction: above          # above | below | both
```
"""

from __future__ import annotations

from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator


class PromCheck(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=128)
    service: str | None = Field(default=None, max_length=255)
    query: str = Field(min_length=1, description="PromQL; each series is judged on its own")
    direction: Literal["above", "below", "both"] = "both"
    severity: str = "warning"
    every_minutes: float = Field(default=5, ge=0.25, le=24 * 60)
    step_minutes: float = Field(default=5, ge=0.25, le=60, description="sample spacing")
    lookback_days: float = Field(default=14, gt=0, le=60, description="history learned from")
    summary: str | None = None


class CheckRules(BaseModel):
    model_config = ConfigDict(extra="forbid")

    checks: list[PromCheck] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique(self) -> Self:
        names = [check.name for check in self.checks]
        if len(names) != len(set(names)):
            raise ValueError("check names must be unique")
        return self
