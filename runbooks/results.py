"""What a run reports while it goes and when it ends, for the caller to show and store."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from runbooks.redact import Excerpt, excerpt

Phase = Literal["steps", "rollback"]
NOTHING_TO_ROLL_BACK = "nothing to roll back: no step that changes anything ran"


class StepStatus(StrEnum):
    OK = "ok"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    CANCELLED = "cancelled"
    SKIPPED = "skipped"


class RunStatus(StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class StepOutcome:
    phase: Phase
    number: int
    name: str
    status: StepStatus
    duration_seconds: float
    output: str = ""  # size-capped and redacted
    error: str | None = None  # one redacted sentence when not OK
    exit_code: int | None = None  # exec steps; an http status is the output's first line

    @property
    def ok(self) -> bool:
        return self.status is StepStatus.OK

    def excerpt(self, *, lines: int = 3, chars: int = 300) -> Excerpt:
        """What a progress message shows: a failed step's last lines, else its first."""
        return excerpt(self.output, lines=lines, chars=chars, tail=not self.ok)


@dataclass(frozen=True)
class StepStarted:
    phase: Phase
    number: int
    total: int
    name: str
    description: str  # the rendered command/URL/query, redacted


@dataclass(frozen=True)
class StepFinished:
    phase: Phase
    total: int
    outcome: StepOutcome


@dataclass(frozen=True)
class RunResult:
    runbook: str
    digest: str
    status: RunStatus
    steps: tuple[StepOutcome, ...]
    rollback: tuple[StepOutcome, ...]
    # The run failed before any step that changes something started, so the runbook's
    # rollback did not run: there was nothing to undo.
    rollback_skipped: bool = False

    @property
    def rolled_back(self) -> bool:
        """Rollback ran and every rollback step succeeded."""
        return bool(self.rollback) and all(o.ok for o in self.rollback)

    @property
    def failed_step(self) -> StepOutcome | None:
        return next(
            (o for o in self.steps if not o.ok and o.status is not StepStatus.SKIPPED), None
        )


@dataclass(frozen=True)
class RunFinished:
    result: RunResult


@dataclass(frozen=True)
class ManualRequest:
    """A manual step waiting for a person: the caller shows `prompt` with a confirm button and
    resolves the confirm callback with True (done) or False (declined)."""

    phase: Phase
    number: int
    name: str
    prompt: str
    timeout_seconds: float


RunEvent = StepStarted | StepFinished | RunFinished
ProgressCallback = Callable[[RunEvent], Awaitable[None]]
ConfirmCallback = Callable[[ManualRequest], Awaitable[bool]]
