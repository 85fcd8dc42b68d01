"""HTTP routes for machines: the Alertmanager and change webhooks, the operational endpoints."""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import logging
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import ValidationError

from bot import openapi_bodies as bodies
from bot.background.ingest import IngestResult
from bot.bodies import MAX_BODY, BodyTooLarge, NotJSON, parse_json, read_body
from bot.delivery_audit import audit_delivery, record_delivery
from core.alerts import Adjusted, parse_delivery
from core.changes import ChangeEvent
from integrations.change_events import (
    github_signature_valid,
    parse_argocd,
    parse_change,
    parse_github,
)
from storage.database import unavailable_reason
from storage.uow import UnitOfWork

if TYPE_CHECKING:
    from bot.main import Lookout

log = logging.getLogger(__name__)

# While the database cannot take a write, senders are told to try again after this long
# (Alertmanager retries a failed notification with its own backoff in any case).
RETRY_AFTER_SECONDS = 10
# /readyz waits this long for the database before it says it is not ready.
READY_TIMEOUT_SECONDS = 5.0


def is_loopback(host: str | None) -> bool:
    if not host:
        return False
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def _problem(status: int, detail: str, **headers: str) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status, headers=headers or None)


def database_unavailable(error: BaseException) -> JSONResponse | None:
    """503 with Retry-After when `error` means the database cannot serve right now (see
    `storage.database.unavailable_reason`): nothing of the request was committed, and the
    sender should send it again. None for any other error."""
    reason = unavailable_reason(error)
    if reason is None:
        return None
    log.warning("database unavailable; asked the sender to retry", extra={"reason": reason})
    return _problem(
        503,
        f"the database is unavailable ({reason}); nothing was stored, send it again",
        **{"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


async def database_unavailable_handler(request: Request, error: Exception) -> Response:
    """The app's handler for database and connection errors no route handled: a database
    that cannot serve is a 503 with Retry-After; any other such error is a 500, logged."""
    response = database_unavailable(error)
    if response is None:
        log.error("request failed", exc_info=error, extra={"path": request.url.path})
        return _problem(500, "internal error")
    return response


def _validation_reason(error: ValidationError) -> str:
    reasons = []
    for item in error.errors()[:5]:
        where = ".".join(str(part) for part in item["loc"]) or "body"
        reasons.append(f"{where}: {item['msg']}")
    more = f" (and {error.error_count() - 5} more)" if error.error_count() > 5 else ""
    return "; ".join(reasons) + more


async def note_adjusted(uow: UnitOfWork, adjusted: list[Adjusted]) -> None:
    """A line in the timeline of each incident an alert with a future `startsAt` went to,
    saying the receive time was used instead — once per alert and time given, however often
    Alertmanager sends its group again."""
    if not adjusted:
        return
    stored = await uow.alerts.latest(fingerprints={item.fingerprint for item in adjusted})
    incident_ids = sorted({row.incident_id for row in stored.values() if row.incident_id})
    said = await uow.incidents.events_of_kind(incident_ids=incident_ids, kind="alert_time")
    for item in adjusted:
        row = stored.get(item.fingerprint)
        if row is None or row.incident_id is None:
            continue
        key = (item.fingerprint, item.given.isoformat())
        if any(
            (event.data or {}).get("fingerprint") == key[0]
            and (event.data or {}).get("given_starts_at") == key[1]
            for event in said.get(row.incident_id, [])
        ):
            continue
        await uow.incidents.add_event(
            incident_id=row.incident_id,
            kind="alert_time",
            text=item.note,
            at=item.used,
            data={
                "fingerprint": item.fingerprint,
                "given_starts_at": item.given.isoformat(),
                "used_starts_at": item.used.isoformat(),
            },
        )


def _decode(body: bytes) -> dict[str, Any] | JSONResponse:
    try:
        document: Any = parse_json(body)
    except NotJSON as error:
        return _problem(400, str(error))
    if not isinstance(document, dict):
        return _problem(422, "body must be a JSON object")
    return document


def machine_routes(lookout: Lookout) -> APIRouter:
    router = APIRouter()
    metrics = lookout.metrics
    token = lookout.settings.webhook_token
    service_labels = lookout.config.grouping.service_labels

    def authorize(request: Request, what: str = "alerts") -> JSONResponse | None:
        if token is None:
            client = request.client.host if request.client else None
            if is_loopback(client):
                return None
            return _problem(
                401,
                f"no LOOKOUT_WEBHOOK_TOKEN is configured, so only loopback clients may post {what}",
            )
        header = request.headers.get("authorization", "")
        scheme, _, given = header.partition(" ")
        if scheme.lower() != "bearer" or not given:
            return _problem(401, "missing bearer token", **{"WWW-Authenticate": "Bearer"})
        if not hmac.compare_digest(given.strip().encode(), token.get_secret_value().encode()):
            return _problem(401, "invalid bearer token", **{"WWW-Authenticate": "Bearer"})
        return None

    @router.post("/webhooks/alertmanager", tags=["webhooks"], openapi_extra=bodies.ALERTMANAGER)
    async def alertmanager_webhook(request: Request) -> Response:
        """Accept an Alertmanager webhook (v4). 200 only after the alerts are committed."""
        started = time.perf_counter()
        try:
            response = await _alertmanager(request)
        except Exception as error:
            if (unavailable := database_unavailable(error)) is None:
                raise
            response = unavailable
        metrics.webhook_requests.labels("alertmanager", str(response.status_code)).inc()
        metrics.webhook_seconds.labels("alertmanager").observe(time.perf_counter() - started)
        if response.status_code != 200:  # a stored delivery was audited as it was stored
            await audit_delivery(lookout.database, source="alertmanager", response=response)
        return response

    async def _alertmanager(request: Request) -> Response:
        if (denied := authorize(request)) is not None:
            return denied
        try:
            body = await read_body(request)
        except BodyTooLarge:
            return _problem(413, f"body is larger than {MAX_BODY} bytes")
        try:
            document: Any = parse_json(body)
        except NotJSON as error:
            return _problem(400, str(error))
        if not isinstance(document, dict):
            return _problem(422, "body must be a JSON object (an Alertmanager webhook message)")
        try:
            delivery = parse_delivery(
                document, service_labels=service_labels, now=datetime.now(UTC)
            )
        except ValidationError as error:
            return _problem(422, f"not an Alertmanager webhook: {_validation_reason(error)}")
        except ValueError as error:
            return _problem(422, f"not an Alertmanager webhook: {error}")
        rejected = [{"index": item.index, "reason": item.reason} for item in delivery.rejected]

        def answer_to(result: IngestResult) -> dict[str, Any]:
            answer: dict[str, Any] = {
                "status": "accepted",
                "received": result.received,
                "new": result.new_alerts,
                "updated": result.updated_alerts,
                "unchanged": result.unchanged_alerts,
                "incidents_created": [f"INC-{i}" for i in result.created_incidents],
                "incidents_changed": sorted(f"INC-{i}" for i in result.changed_incidents),
            }
            if rejected:
                # The readable alerts are stored; the others are named, so nothing healthy
                # waits behind one broken alert (Alertmanager would retry the whole body).
                answer["rejected"] = rejected
            if delivery.adjusted:
                answer["adjusted"] = [
                    {"index": item.index, "reason": item.reason} for item in delivery.adjusted
                ]
            return answer

        async def audit(uow: UnitOfWork, result: IngestResult) -> None:
            await note_adjusted(uow, delivery.adjusted)
            await record_delivery(uow, source="alertmanager", status=200, answer=answer_to(result))

        result = await lookout.accept(
            delivery.alerts, truncated_alerts=delivery.truncated_alerts, audit=audit
        )
        if rejected:
            log.warning(
                "alerts rejected from a delivery",
                extra={"rejected": rejected[:5], "accepted": len(delivery.alerts)},
            )
        return JSONResponse(answer_to(result))

    async def _json_body(request: Request) -> Any:
        """The body as a JSON object, or the 4xx response that says why not."""
        try:
            body = await read_body(request)
        except BodyTooLarge:
            return _problem(413, f"body is larger than {MAX_BODY} bytes")
        return _decode(body)

    async def _accept_change(event: ChangeEvent) -> JSONResponse:
        result = await lookout.accept_change(event)
        return JSONResponse(
            {
                "status": "accepted",
                "change": event.id,
                "outcome": result.recorded.outcome,
                "incidents_changed": sorted(f"INC-{i}" for i in result.changed_incidents),
            }
        )

    @router.post("/webhooks/changes", tags=["webhooks"], openapi_extra=bodies.CHANGE)
    async def change_webhook(request: Request) -> Response:
        """Accept a change event (deploy, config, feature flag, scaling, manual) as JSON."""
        response = await _change(request)
        await audit_delivery(lookout.database, source="changes", response=response)
        return response

    async def _change(request: Request) -> Response:
        if (denied := authorize(request, "changes")) is not None:
            return denied
        document = await _json_body(request)
        if isinstance(document, Response):
            return document
        try:
            event = parse_change(document)
        except ValidationError as error:
            return _problem(422, f"not a change event: {_validation_reason(error)}")
        except ValueError as error:
            return _problem(422, f"not a change event: {error}")
        return await _accept_change(event)

    @router.post("/webhooks/changes/github", tags=["webhooks"], openapi_extra=bodies.GITHUB)
    async def github_webhook(request: Request) -> Response:
        """GitHub `deployment`, `deployment_status` and `workflow_run` deliveries, signed
        with `X-Hub-Signature-256` (LOOKOUT_GITHUB_WEBHOOK_SECRET)."""
        response = await _github(request)
        await audit_delivery(lookout.database, source="github", response=response)
        return response

    async def _github(request: Request) -> Response:
        secret = lookout.settings.github_webhook_secret
        if secret is None and (denied := authorize(request, "changes")) is not None:
            return denied
        try:
            body = await read_body(request)
        except BodyTooLarge:
            return _problem(413, f"body is larger than {MAX_BODY} bytes")
        if secret is not None and not github_signature_valid(
            secret.get_secret_value(), body, request.headers.get("x-hub-signature-256")
        ):
            return _problem(401, "missing or invalid X-Hub-Signature-256")
        document = _decode(body)
        if isinstance(document, Response):
            return document
        event_type = request.headers.get("x-github-event", "")
        if event_type == "ping":
            return JSONResponse({"status": "ok", "reason": "pong"})
        try:
            event = parse_github(event_type, document, lookout.config.changes.github)
        except ValueError as error:
            return _problem(422, f"not a GitHub {event_type or 'event'}: {error}")
        if event is None:
            reason = f"GitHub event {event_type or '(no X-GitHub-Event)'} is not a change"
            return JSONResponse({"status": "ignored", "reason": reason}, status_code=202)
        return await _accept_change(event)

    @router.post("/webhooks/changes/argocd", tags=["webhooks"], openapi_extra=bodies.ARGOCD)
    async def argocd_webhook(request: Request) -> Response:
        """An Argo CD notification (webhook service) rendered with Lookout's template."""
        response = await _argocd(request)
        await audit_delivery(lookout.database, source="argocd", response=response)
        return response

    async def _argocd(request: Request) -> Response:
        if (denied := authorize(request, "changes")) is not None:
            return denied
        document = await _json_body(request)
        if isinstance(document, Response):
            return document
        try:
            event = parse_argocd(document, now=datetime.now(UTC))
        except ValueError as error:
            return _problem(422, f"not an Argo CD notification: {error}")
        return await _accept_change(event)

    @router.get("/healthz", tags=["operations"])
    async def healthz() -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}

    @router.get("/readyz", tags=["operations"])
    async def readyz() -> JSONResponse:
        """The database answers (within READY_TIMEOUT_SECONDS) and its schema is at the
        latest migration; else 503 with the reason."""
        try:
            async with asyncio.timeout(READY_TIMEOUT_SECONDS):
                await lookout.database.ping()
                current = await lookout.database.current_revision()
        except TimeoutError:
            reason = f"database did not answer within {READY_TIMEOUT_SECONDS:g} s"
            log.warning("readiness check failed", extra={"reason": reason})
            return JSONResponse({"status": "unavailable", "reason": reason}, 503)
        except Exception as error:
            detail = unavailable_reason(error) or type(error).__name__
            log.warning("readiness check failed", extra={"error": repr(error)})
            return JSONResponse(
                {"status": "unavailable", "reason": f"database unreachable: {detail}"}, 503
            )
        head = lookout.database.head_revision()
        if current != head:
            reason = f"database schema at {current}, expected {head}"
            return JSONResponse({"status": "unavailable", "reason": reason}, 503)
        return JSONResponse({"status": "ready", "schema": current})

    @router.get("/metrics", tags=["operations"])
    async def prometheus_metrics() -> Response:
        await lookout.refresh_gauges()
        return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)

    return router
