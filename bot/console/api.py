"""The console's page and JSON API (`/` and `/console/api/…`)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse

from bot.console.access import NONE_WARNING, signed_in_user
from bot.console.command_body import OPENAPI_BODY, BadCommand, CommandIn, read_command
from bot.console.platform import console_anchor, message_json, parse_message_id
from bot.console.render import render_reply
from core.incident_summary import root_cause_from_record
from skills.contract import Actor, Conversation, Reply
from skills.pointer import pointer_reply
from skills.views.incident_card import card_facts
from storage.models import ChatThreadRow

if TYPE_CHECKING:
    from bot.main import Lookout

STATIC = Path(__file__).parent / "static"


def _root_cause(record: dict[str, Any] | None) -> dict[str, Any] | None:
    cause = root_cause_from_record(record)
    if cause is None:
        return None
    return {
        "service": cause.service,
        "confidence": round(cause.confidence, 3),
        "factors": list(cause.factors),
    }


def _place(thread: ChatThreadRow | None) -> dict[str, Any]:
    """Where an incident's message is in the console: `channel` and `message` (`m-12`)."""
    if thread is None or thread.message_id is None:
        return {"channel": None, "message": None}
    return {"channel": thread.channel, "message": f"m-{thread.message_id}"}


# Whose lists the console shows: the signed-in user, else the one the page names.
USER_PARAMETER = Query(
    default=None,
    max_length=64,
    pattern=r"^[\w.@+-]+$",
    description="whose view (ignored behind a proxy); with projects configured, lists show "
    "only that user's projects' things; none given on a local console: everything",
)


def _message_id(value: str) -> int:
    try:
        return parse_message_id(value)
    except ValueError:
        raise HTTPException(422, "A thread is a console message id, e.g. m-12.") from None


def console_routes(lookout: Lookout) -> APIRouter:
    router = APIRouter()
    database = lookout.database
    platform = lookout.console

    @router.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    @router.get("/console/api/session", tags=["console"])
    async def session(request: Request) -> dict[str, Any]:
        """How the console is served: `auth` (local, proxy or none), `user` (the user the
        proxy signed in, else null: the page picks one) and `warning` (text to show, or null)."""
        mode = lookout.settings.console_auth
        return {
            "auth": mode,
            "user": signed_in_user(request.scope),
            "warning": NONE_WARNING if mode == "none" else None,
        }

    async def _visible(uow: Any, request: Request, user: str | None) -> frozenset[str] | None:
        """The projects the console's user may see; None: everything (no projects
        configured, or a local console whose page names no user)."""
        who = signed_in_user(request.scope) or user
        if who is None:
            return None
        actor = Actor(platform="console", user_id=who, display_name=who)
        return await lookout.dispatcher.visible_projects(uow, actor)

    def _channel_hidden(channel: str, visible: frozenset[str] | None) -> str | None:
        """Why `channel` is not shown to a user seeing `visible`, or None when it is."""
        owner = lookout.config.project_map().of_channel("console", channel)
        if visible is None or owner is None or owner in visible:
            return None
        return (
            f"{channel} is the {owner} project's channel and you are not a member of "
            f"{owner}; an admin of {owner} can add you."
        )

    @router.get("/console/api/channels", tags=["console"])
    async def channels(request: Request, user: str | None = USER_PARAMETER) -> list[str]:
        """Channels: the configured ones, then those used; a project's channel only for
        its members."""
        async with database.unit_of_work() as uow:
            used = await uow.console.channels()
            visible = await _visible(uow, request, user)
        configured = lookout.config.channels()
        found = configured + sorted(set(used) - set(configured))
        return [channel for channel in found if _channel_hidden(channel, visible) is None]

    @router.get("/console/api/messages", tags=["console"])
    async def messages(
        request: Request,
        # No NUL: PostgreSQL cannot store or compare text holding one.
        channel: str = Query(default="#incidents", max_length=255, pattern=r"^[^\x00]*$"),
        thread: str | None = None,
        limit: int = Query(default=200, ge=1, le=1000),
        user: str | None = USER_PARAMETER,
    ) -> list[dict[str, Any]]:
        """A channel's root messages, or one thread's replies, oldest first. A project's
        channel is 403 for people outside the project; messages about incidents they may
        not see are left out, and such an incident's thread is 404."""
        thread_id = _message_id(thread) if thread else None
        async with database.unit_of_work() as uow:
            visible = await _visible(uow, request, user)
            if (reason := _channel_hidden(channel, visible)) is not None:
                raise HTTPException(403, reason)
            if visible is not None and thread_id is not None:
                root = await uow.console.get(message_id=thread_id)
                if root is not None and root.incident_id is not None:
                    seen = uow.incidents.scoped(visible)
                    if await seen.get(incident_id=root.incident_id) is None:
                        raise HTTPException(404, f"no console message {thread}")
            rows = await uow.console.in_channel(channel=channel, thread_id=thread_id, limit=limit)
            if visible is not None:
                about = {row.incident_id for row in rows if row.incident_id is not None}
                shown = await uow.incidents.scoped(visible).get_many(incident_ids=sorted(about))
                rows = [row for row in rows if row.incident_id is None or row.incident_id in shown]
            counts = await uow.console.reply_counts(message_ids=[row.id for row in rows])
        return [message_json(row, counts.get(row.id, 0)) for row in rows]

    @router.get("/console/api/incidents", tags=["console"])
    async def incidents(
        request: Request,
        status: Literal["open", "all", "resolved"] = "open",
        limit: int = Query(default=200, ge=1, le=1000),
        user: str | None = USER_PARAMETER,
    ) -> list[dict[str, Any]]:
        """Incidents, newest first, with what their cards show: the probable root cause
        (service, confidence 0–1, factors), the services, and the alert counts; with
        projects configured, only those of the user's projects."""
        async with database.unit_of_work() as uow:
            visible = await _visible(uow, request, user)
            rows = await uow.incidents.scoped(visible).find(status=status, limit=limit)
            ids = [row.id for row in rows]
            fingerprints = await uow.alerts.fingerprints(incident_ids=ids)
            facts = await card_facts(uow.alerts, ids)
            places = await uow.threads.of_incidents(incident_ids=ids, platform="console")
        return [
            {
                "id": row.id,
                "ref": f"INC-{row.id}",
                "title": row.title,
                "status": row.status,
                "severity": row.severity,
                "service": row.service,
                "services": list(facts[row.id].services),
                "alerts": facts[row.id].alerts,
                "firing": facts[row.id].firing,
                "truncated_alerts": row.truncated_alerts,
                "root_cause": _root_cause(row.root_cause),
                "episode": row.episode,
                "merged_into": f"INC-{row.merged_into}" if row.merged_into else None,
                "alert_fingerprints": sorted(fingerprints[row.id]),
                "created_at": row.created_at.isoformat(),
                "opened_at": row.opened_at.isoformat(),
                "acknowledged_at": row.acknowledged_at.isoformat() if row.acknowledged_at else None,
                "acknowledged_by": row.acknowledged_by,
                "resolved_at": row.resolved_at.isoformat() if row.resolved_at else None,
                "resolved_by": row.resolved_by,
                **_place(places.get(row.id)),
                "owner": row.owner_name,
            }
            for row in rows
        ]

    @router.post("/console/api/command", tags=["console"], openapi_extra=OPENAPI_BODY)
    async def command(request: Request) -> Response:
        """Run a command as a console user (the one the proxy signed in, behind a proxy);
        the answer lands where Slack would put it. A body that is not a command is a 400,
        413 or 422 whose `detail` is one sentence."""
        try:
            body = await read_command(request)
        except BadCommand as error:
            return JSONResponse({"detail": str(error)}, status_code=error.status)
        return JSONResponse(await _run(body, request))

    async def _run(body: CommandIn, request: Request) -> dict[str, Any]:
        user = signed_in_user(request.scope) or body.user
        thread_id = _message_id(body.thread) if body.thread else None
        incident_id = None
        if thread_id is not None:
            async with database.unit_of_work() as uow:
                root = await uow.console.get(message_id=thread_id)
            if root is None:
                raise HTTPException(404, f"no console message {body.thread}")
            incident_id = root.incident_id
        actor = Actor(platform="console", user_id=user, display_name=user)
        conversation = Conversation(
            platform="console",
            channel=body.channel,
            thread=str(thread_id) if thread_id is not None else None,
            incident_id=incident_id,
        )
        reply = await lookout.dispatcher.run(body.text, actor=actor, conversation=conversation)
        rendered = render_reply(reply)
        if reply.visibility == "ephemeral":
            return {"ok": True, "ephemeral": True, **rendered, "message": None}
        channel, target = await _placement(reply, body.channel, thread_id)
        elsewhere = (channel, target) != (body.channel, thread_id)
        await platform.add(
            channel=channel,
            author=user,
            author_kind="user",
            reply=Reply.text(body.text, incident_id=reply.incident_id),
            thread_id=target,
        )
        row = await platform.add(
            channel=channel, author="Lookout", author_kind="bot", reply=reply, thread_id=target
        )
        pointer = None
        if elsewhere and reply.incident_id is not None and target is not None:
            pointer = await platform.add(
                channel=body.channel,
                author="Lookout",
                author_kind="bot",
                reply=pointer_reply(
                    reply.incident_id, link=console_anchor(channel, target), where=channel
                ),
                thread_id=thread_id,
            )
        return {
            "ok": True,
            "ephemeral": False,
            **rendered,
            "message": message_json(row),
            "pointer": message_json(pointer) if pointer is not None else None,
        }

    async def _placement(
        reply: Reply, channel: str, thread_id: int | None
    ) -> tuple[str, int | None]:
        """An answer about an incident goes to that incident's thread, wherever it was asked."""
        if reply.incident_id is not None and reply.visibility == "thread":
            async with database.unit_of_work() as uow:
                row = await uow.threads.get(incident_id=reply.incident_id, platform="console")
            if row is not None and row.message_id is not None:
                return row.channel, int(row.message_id)
        return channel, thread_id

    @router.get("/console/api/stream", tags=["console"])
    async def stream(request: Request) -> StreamingResponse:
        """Server-sent events: `message` (created or updated) as they happen."""
        return StreamingResponse(
            lookout.hub.stream(request.is_disconnected),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    return router
