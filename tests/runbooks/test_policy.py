"""Who may run and approve, and the rate limit: pure checks over plain data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from runbooks.policy import (
    RateLimiter,
    approval_expired,
    approvals_needed,
    can_approve,
    is_approved,
    may_run,
)
from runbooks.schema import Runbook

from .conftest import runbook

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def book(risk: str, **policy: object) -> Runbook:
    lines = "".join(f"\n      {key}: {value}" for key, value in policy.items())
    policy_block = f"\n    policy:{lines}" if policy else ""
    return runbook(
        f"""
    name: {risk}-book
    title: Book
    risk: {risk}{policy_block}
    steps: [{{name: a, kind: wait, seconds: 1}}]
    """
    )


@pytest.mark.parametrize(
    ("risk", "approval", "needed"), [("low", "none", 0), ("medium", "one", 1), ("high", "two", 1)]
)
def test_approval_follows_risk(risk: str, approval: str, needed: int) -> None:
    assert book(risk).approval == approval
    assert approvals_needed(book(risk)) == needed


def test_a_viewer_cannot_run() -> None:
    decision = may_run(book("low"), "viewer")
    assert not decision
    assert decision.reason == "running low-book needs the responder or admin role"
    assert may_run(book("low"), "responder")
    assert not may_run(book("low", allowed_roles="[admin]"), "responder")


def test_a_responder_cannot_approve_their_own_two_person_run() -> None:
    high = book("high")
    own = can_approve(
        high, requester="u1", approver="u1", approver_role="admin", approvals_so_far=[]
    )
    assert not own
    assert "a second person approves" in own.reason
    assert not is_approved(high, requester="u1", approvals=["u1"])
    other = can_approve(
        high, requester="u1", approver="u2", approver_role="responder", approvals_so_far=[]
    )
    assert other
    assert is_approved(high, requester="u1", approvals=["u2"])


def test_one_person_approval_may_be_the_requester_but_not_a_viewer_or_twice() -> None:
    medium = book("medium")
    assert can_approve(
        medium, requester="u1", approver="u1", approver_role="responder", approvals_so_far=[]
    )
    assert not can_approve(
        medium, requester="u1", approver="u2", approver_role="viewer", approvals_so_far=[]
    )
    assert not can_approve(
        medium, requester="u1", approver="u2", approver_role="admin", approvals_so_far=["u2"]
    )
    assert not is_approved(medium, requester="u1", approvals=[])
    assert is_approved(book("low"), requester="u1", approvals=[])


def test_approval_times_out() -> None:
    medium = book("medium", approval_timeout_minutes=10)
    assert not approval_expired(medium, requested_at=NOW, now=NOW + timedelta(minutes=9))
    assert approval_expired(medium, requested_at=NOW, now=NOW + timedelta(minutes=10))


def test_the_rate_limit_holds_over_a_sliding_hour() -> None:
    limiter = RateLimiter.for_runbook(book("low", max_runs_per_hour=3))
    runs = [NOW - timedelta(minutes=m) for m in (50, 20, 5)]
    old = [NOW - timedelta(hours=2)] * 10

    refused = limiter.check(runs + old, NOW)

    assert not refused
    assert refused.reason == "already ran 3 times in the last hour (limit 3)"
    assert refused.retry_after == timedelta(minutes=10)
    assert limiter.check(runs[1:] + old, NOW)
    assert limiter.check(runs, NOW + timedelta(minutes=10))
