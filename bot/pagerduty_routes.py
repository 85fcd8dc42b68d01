"""`POST /webhooks/pagerduty`: PagerDuty's Webhooks v3 back into Lookout.

`incident.acknowledged` and `incident.resolved` about an incident Lookout paged (its alert's
dedup key, or `INC-n` in the title Lookout gave it) acknowledge or resolve that incident, as
its people would in chat: the same commands, audited, with PagerDuty's agent as the actor.
With LOOKOUT_PAGERDUTY_WEBHOOK_SECRET set, bodies must carry a matching
`X-PagerDuty-Signature` (401 when missing or garbled, 403 when it does not match);
otherwise the webhook token rules of the other webhooks apply.
"""

from __future__ import annotations

import hmac
import logging
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from bot.bodies import MAX_BODY, BodyTooLarge, NotJSON, parse_json, read_body
from bot.delivery_audit import audit_delivery
from bot.http import is_loopback
from bot.openapi_bodies import PAGERDUTY
from core.incidents import display_id
from integrations.pagerduty import SignatureError, parse_webhook, verify_signature
from skills.contract import Actor, Conversation

if TYPE_CHECKING:
    from bot.main import Lookout

log = logging.getLogger(__name__)

ACTIONS = {"incident.acknowledged": "ack", "incident.resolved": "resolve"}
PD_STATE = {"ack": "acknowledged", "resolve": "resolved"}


def _problem(status: int, detail: str) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status)


def pagerduty_routes(lookout: Lookout) -> APIRouter:
    router = APIRouter()
    settings = lookout.settings

    def denied(request: Request, body: bytes) -> JSONResponse | None:
        secret = settings.pagerduty_webhook_secret
        if secret is not None:
            try:
                verify_signature(
                    [secret.get_secret_value()], body, request.headers.get("x-pagerduty-signature")
                )
            except SignatureError as error:
                return _problem(401 if error.missing else 403, str(error))
            return None
        token = settings.webhook_token
        if token is None:
            client = request.client.host if request.client else None
            if is_loopback(client):
                return None
            return _problem(
                401,
                "set LOOKOUT_PAGERDUTY_WEBHOOK_SECRET (or LOOKOUT_WEBHOOK_TOKEN): only "
                "loopback clients may post without one",
            )
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            given.strip().encode(), token.get_secret_value().encode()
        ):
            return _problem(401, "missing or invalid bearer token")
        return None

    @router.post("/webhooks/pagerduty", tags=["webhooks"], openapi_extra=PAGERDUTY)
    async def pagerduty_webhook(request: Request) -> Response:
        """PagerDuty Webhooks v3: acknowledgements and resolutions of paged incidents."""
        response = await _pagerduty(request)
        await audit_delivery(lookout.database, source="pagerduty", response=response)
        return response

    async def _pagerduty(request: Request) -> Response:
        try:
            body = await read_body(request)
        except BodyTooLarge:
            return _problem(413, f"body is larger than {MAX_BODY} bytes")
        if (refused := denied(request, body)) is not None:
            lookout.metrics.webhook_requests.labels("pagerduty", str(refused.status_code)).inc()
            return refused
        try:
            document: Any = parse_json(body)
            event = parse_webhook(document)
        except NotJSON as error:
            return _problem(400, str(error))
        except ValueError as error:
            return _problem(422, f"not a PagerDuty v3 webhook: {error}")
        lookout.metrics.webhook_requests.labels("pagerduty", "200").inc()
        verb = ACTIONS.get(event.event_type)
        if verb is None:
            return JSONResponse(
                {"status": "ignored", "reason": f"{event.event_type} changes nothing here"},
                status_code=202,
            )
        if event.incident_id is None:
            return JSONResponse(
                {"status": "ignored", "reason": "the event names no Lookout incident"},
                status_code=202,
            )
        ref = display_id(event.incident_id)
        agent = event.agent or "PagerDuty"
        actor = Actor(
            platform="pagerduty",
            user_id=f"pagerduty:{agent}",
            display_name=f"{agent} (PagerDuty)",
        )
        command = f"{verb} {ref}" + (" resolved in PagerDuty" if verb == "resolve" else "")
        await _remember(lookout, event.incident_id, PD_STATE[verb])
        reply = await lookout.dispatcher.run(
            command,
            actor=actor,
            conversation=Conversation(platform="pagerduty", channel="pagerduty"),
        )
        outcome = "unchanged" if reply.visibility == "ephemeral" else "accepted"
        log.info(
            "PagerDuty webhook",
            extra={"event": event.event_type, "incident": ref, "outcome": outcome},
        )
        return JSONResponse({"status": outcome, "incident": ref, "detail": reply.plain_text[:500]})

    return router


async def _remember(lookout: Lookout, incident_id: int, state: str) -> None:
    """PagerDuty told us: no need to tell it back. Written before the command runs, since
    an escalation pass may follow the command at once and would tell PagerDuty otherwise."""
    async with lookout.database.unit_of_work() as uow:
        incident = await uow.incidents.get(incident_id=incident_id)
        if incident is None:
            return
        escalation = await uow.escalations.of_episode(
            incident_id=incident_id, episode=incident.episode
        )
        if escalation is not None and escalation.pagerduty in ("triggered", "acknowledged"):
            escalation.pagerduty = state
