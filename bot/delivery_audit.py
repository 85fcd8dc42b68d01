"""One audit entry per webhook delivery: who sent it (platform `webhook`, the sender as the
user), what it carried and touched, and for a refused one the reason it was refused.

Deliveries refused at the door (401, 403: not signed or not authorized; 413: too large to
read, so some routes cannot tell who sent it) are not written — anyone can send those, and
the audit log is not theirs to fill; they are logged and counted.
Nor are 5xx answers: nothing was stored, and the sender sends the delivery again."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from fastapi.responses import Response

from core.incidents import parse_incident_id
from storage.database import Database
from storage.uow import UnitOfWork

log = logging.getLogger(__name__)

WEBHOOK_PLATFORM = "webhook"
NOT_AUDITED = {401, 403, 413}
MOST_LISTED = 20  # incidents named in one entry's detail


def _answer(response: Response) -> dict[str, Any]:
    try:
        document = json.loads(bytes(response.body))
    except (ValueError, TypeError):
        return {}
    return document if isinstance(document, dict) else {}


def _incidents(answer: dict[str, Any]) -> list[int]:
    named: list[str] = []
    for key in ("incidents_created", "incidents_changed"):
        value = answer.get(key)
        if isinstance(value, list):
            named.extend(str(item) for item in value)
    if isinstance(answer.get("incident"), str):
        named.append(answer["incident"])
    found: list[int] = []
    for item in named:
        try:
            number = parse_incident_id(item)
        except ValueError:
            continue
        if number not in found:
            found.append(number)
    return found


def outcome_of(status: int, answer: dict[str, Any]) -> str:
    """`ok` (stored), `ignored` (understood, nothing to do), `refused` (4xx)."""
    if status >= 400:
        return "refused"
    if status == 202 or answer.get("status") in ("ignored", "unchanged"):
        return "ignored"
    return "ok"


async def audit_delivery(
    database: Database, *, source: str, response: Response, now: datetime | None = None
) -> None:
    """Record `response`'s delivery from `source` (`alertmanager`, `changes`, `github`,
    `argocd`, `pagerduty`) in a transaction of its own. Never raises: the delivery's answer
    stands whatever happens here."""
    status = response.status_code
    if status in NOT_AUDITED or status >= 500:
        return
    try:
        async with database.unit_of_work() as uow:
            await record_delivery(
                uow, source=source, status=status, answer=_answer(response), now=now
            )
    except Exception:
        log.exception("could not audit a webhook delivery", extra={"source": source})


async def record_delivery(
    uow: UnitOfWork,
    *,
    source: str,
    status: int,
    answer: dict[str, Any],
    now: datetime | None = None,
) -> None:
    """Record, in `uow`, the delivery from `source` answered `status` with `answer` (the
    JSON the sender got) — inside the transaction that stored it, where there is one, so a
    stored delivery and its audit entry commit together."""
    outcome = outcome_of(status, answer)
    incidents = _incidents(answer)
    detail: dict[str, Any] = {"source": source, "status": status}
    if outcome == "refused":
        detail["reason"] = str(answer.get("detail", ""))[:500]
    else:
        for key, value in answer.items():
            if key == "rejected" and isinstance(value, list):
                detail["rejected"] = len(value)
            elif key not in ("incidents_created", "incidents_changed", "incident"):
                detail[key] = value if not isinstance(value, str) else value[:500]
        if incidents:
            detail["incidents"] = [f"INC-{number}" for number in incidents[:MOST_LISTED]]
    rows = await uow.incidents.get_many(incident_ids=incidents[:MOST_LISTED])
    projects = {row.project for row in rows.values()}
    await uow.audit.record(
        at=now or datetime.now(UTC),
        platform=WEBHOOK_PLATFORM,
        user_id=source,
        user_name=source,
        action="webhook",
        target=f"INC-{incidents[0]}" if len(incidents) == 1 else None,
        detail=detail,
        outcome=outcome,
        project=projects.pop() if len(projects) == 1 else None,
    )
