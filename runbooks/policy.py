"""Who may run and approve a runbook, and how often it may run: pure checks over plain data.

The caller (the `run` and `approve` skills) supplies who asked, who approved so far and when
past runs started; these functions only decide, so the same rules hold for every platform.

Approval rules, from the runbook's risk or its stricter policy:
- `none`: runs as soon as it is asked for;
- `one`: a responder confirms the rendered plan; that may be the requester, as a deliberate
  second look at the exact commands;
- `two`: a second person approves: never the requester, whatever their role.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from core.wording import plural
from runbooks.schema import Runbook

HOUR = timedelta(hours=1)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str = ""
    retry_after: timedelta | None = None  # for the rate limit: when the next run may start

    def __bool__(self) -> bool:
        return self.allowed


ALLOWED = Decision(True)


def approvals_needed(runbook: Runbook) -> int:
    """How many approvals must be recorded before the run starts: 0, 1 or (for `two`) 1
    from someone other than the requester."""
    return 0 if runbook.approval == "none" else 1


def may_run(runbook: Runbook, role: str) -> Decision:
    """`role` is the dispatcher's role name for the requester (viewer, responder, admin)."""
    if role not in runbook.policy.allowed_roles:
        allowed = " or ".join(runbook.policy.allowed_roles)
        return Decision(False, f"running {runbook.name} needs the {allowed} role")
    return ALLOWED


def can_approve(
    runbook: Runbook,
    *,
    requester: str,
    approver: str,
    approver_role: str,
    approvals_so_far: Collection[str],
) -> Decision:
    """May `approver` (a user id) approve this run now? Ids are compared as given, so the caller
    must pass the same form (platform + user id) for requester and approvers."""
    if runbook.approval == "none":
        return Decision(False, f"{runbook.name} needs no approval")
    if approver_role not in runbook.policy.allowed_roles:
        allowed = " or ".join(runbook.policy.allowed_roles)
        return Decision(False, f"approving {runbook.name} needs the {allowed} role")
    if runbook.approval == "two" and approver == requester:
        return Decision(False, f"{runbook.name} is {runbook.risk} risk: a second person approves")
    if approver in approvals_so_far:
        return Decision(False, "you have already approved this run")
    return ALLOWED


def is_approved(runbook: Runbook, *, requester: str, approvals: Collection[str]) -> bool:
    """Whether the recorded approvals let the run start."""
    if runbook.approval == "none":
        return True
    if runbook.approval == "two":
        return any(approver != requester for approver in approvals)
    return bool(approvals)


def approval_expired(runbook: Runbook, *, requested_at: datetime, now: datetime) -> bool:
    return now - requested_at >= timedelta(minutes=runbook.policy.approval_timeout_minutes)


class RateLimiter:
    """At most `max_runs` starts in any sliding hour."""

    def __init__(self, max_runs: int, window: timedelta = HOUR) -> None:
        self.max_runs = max_runs
        self.window = window

    @classmethod
    def for_runbook(cls, runbook: Runbook) -> RateLimiter:
        return cls(runbook.policy.max_runs_per_hour)

    def check(self, run_starts: Sequence[datetime], now: datetime) -> Decision:
        """`run_starts`: when earlier runs of this runbook started (any order, any age)."""
        recent = sorted(t for t in run_starts if now - self.window < t <= now)
        if len(recent) < self.max_runs:
            return ALLOWED
        # The oldest run that still counts has to leave the window before another may start.
        oldest_counted = recent[len(recent) - self.max_runs]
        retry_after = oldest_counted + self.window - now
        return Decision(
            False,
            f"already ran {plural(len(recent), 'time')} in the last hour (limit {self.max_runs})",
            retry_after=retry_after,
        )
