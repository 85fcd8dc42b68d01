"""A fake Slack Web API on loopback: records every call, answers like Slack, fails on demand.

It speaks the wire protocol the real SDK uses: `POST /api/<method>` with form or JSON
bodies, `{"ok": …}` answers, HTTP 429 with `Retry-After`, the two-step external file upload,
and `response_url` hooks.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from tests.conftest import free_port

CHANNEL_IDS = {"#incidents": "C0INCIDENTS", "#payments": "C0PAYMENTS"}


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    at: float


@dataclass
class Failure:
    status: int = 200
    error: str | None = None
    retry_after: int | None = None


@dataclass
class FakeSlack:
    url: str = ""
    calls: list[Call] = field(default_factory=list)
    failures: dict[str, list[Failure]] = field(default_factory=dict)
    _ts: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _changed: asyncio.Event = field(default_factory=asyncio.Event)
    envelopes: asyncio.Queue[dict[str, Any]] = field(default_factory=asyncio.Queue)
    socket_connected: asyncio.Event = field(default_factory=asyncio.Event)
    # Messages as Slack keeps them, per channel id, oldest first (for conversations.history).
    history: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    # users.info: user id → the `user` object Slack answers; anyone else is user_not_found.
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    # usergroups.list: the user groups as Slack describes them (id, handle, users).
    usergroups: list[dict[str, Any]] = field(default_factory=list)
    # Messages someone deleted, as (channel id, ts).
    deleted: set[tuple[str, str]] = field(default_factory=set)
    # Channels (by name or id) that refuse every post with this error (archived, …).
    refusing: dict[str, str] = field(default_factory=dict)
    # The Enterprise Grid org of the installing workspace (auth.test), if any.
    enterprise: str | None = None
    # Methods Slack is slow to answer: method → seconds before the answer.
    delays: dict[str, float] = field(default_factory=dict)

    @property
    def api_url(self) -> str:
        return f"{self.url}/api/"

    def response_url(self, name: str = "hook") -> str:
        return f"{self.url}/hooks/{name}"

    def fail(self, method: str, *failures: Failure) -> None:
        self.failures.setdefault(method, []).extend(failures)

    def add_user(
        self,
        user_id: str,
        *,
        display_name: str = "",
        real_name: str = "",
        name: str = "",
        team: str = "T111",
        enterprise: str | None = None,
    ) -> None:
        """A person users.info knows, as Slack describes them."""
        user: dict[str, Any] = {
            "id": user_id,
            "team_id": team,
            "name": name or user_id.lower(),
            "real_name": real_name,
            "is_bot": False,
            "profile": {"display_name": display_name, "real_name": real_name, "team": team},
        }
        if enterprise:
            user["enterprise_user"] = {"id": user_id, "enterprise_id": enterprise}
        self.users[user_id] = user

    def delete(self, channel: str, ts: str) -> None:
        """Someone deletes a message (Lookout's card, say)."""
        self.deleted.add((CHANNEL_IDS.get(channel, channel), ts))

    def calls_to(self, method: str) -> list[Call]:
        return [call for call in self.calls if call.method == method]

    def record(self, method: str, params: dict[str, Any]) -> None:
        self.calls.append(Call(method, params, time.monotonic()))
        self._changed.set()

    async def wait_until(self, done: Callable[[], bool], within: float = 10) -> None:
        """Return once `done()` holds, checking after every call; fail after `within` s."""
        try:
            async with asyncio.timeout(within):
                while not done():
                    self._changed.clear()
                    await self._changed.wait()
        except TimeoutError:
            raise AssertionError(f"still waiting after {within} s; calls: {self.calls}") from None

    async def wait_for(self, method: str, count: int = 1, within: float = 10) -> list[Call]:
        """The calls to `method` once there are at least `count` of them."""
        await self.wait_until(lambda: len(self.calls_to(method)) >= count, within)
        return self.calls_to(method)

    def next_ts(self) -> str:
        return f"1700000000.{next(self._ts):06d}"

    async def _params(self, request: Request) -> dict[str, Any]:
        """The call's arguments wherever the SDK put them: query string, form or JSON."""
        raw = await request.body()
        params: dict[str, Any] = dict(request.query_params)
        if request.headers.get("content-type", "").startswith("application/json"):
            params.update(json.loads(raw or b"{}"))
            return params
        params.update(parse_qsl(raw.decode()))
        for key in ("blocks", "attachments"):
            if isinstance(params.get(key), str):
                params[key] = json.loads(params[key])
        return params

    async def api(self, request: Request) -> Response:
        method = request.path_params["method"]
        params = await self._params(request)
        self.record(method, params)
        if delay := self.delays.get(method):
            await asyncio.sleep(delay)
        pending = self.failures.get(method)
        if pending:
            failure = pending.pop(0)
            if failure.status == 429:
                headers = {"Retry-After": str(failure.retry_after or 1)}
                return JSONResponse({"ok": False, "error": "ratelimited"}, 429, headers=headers)
            if failure.status >= 500:
                return PlainTextResponse("upstream broke", failure.status)
            return JSONResponse({"ok": False, "error": failure.error or "internal_error"})
        return JSONResponse(self._answer(method, params))

    def _refusal(self, method: str, params: dict[str, Any]) -> str | None:
        """The error Slack answers a post or edit with, given the state of things."""
        named = str(params.get("channel"))
        channel = CHANNEL_IDS.get(named, named)
        if method not in ("chat.postMessage", "chat.update", "chat.postEphemeral"):
            return None
        for key in (named, channel):
            if key in self.refusing:
                return self.refusing[key]
        if method == "chat.update" and (channel, str(params.get("ts"))) in self.deleted:
            return "message_not_found"
        thread = params.get("thread_ts")
        if method == "chat.postMessage" and thread and (channel, str(thread)) in self.deleted:
            return "thread_not_found"
        return None

    def _answer(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        channel = CHANNEL_IDS.get(str(params.get("channel")), params.get("channel"))
        refusal = self._refusal(method, params)
        if refusal is not None:
            return {"ok": False, "error": refusal}
        if method == "usergroups.list":
            # api.slack.com/methods/usergroups.list: members only with include_users.
            wanted = str(params.get("include_users", "")).lower() in ("1", "true")
            groups = [
                {key: value for key, value in group.items() if wanted or key != "users"}
                for group in self.usergroups
            ]
            return {"ok": True, "usergroups": groups}
        if method == "users.info":
            user = self.users.get(str(params.get("user")))
            return {"ok": True, "user": user} if user else {"ok": False, "error": "user_not_found"}
        if method == "apps.connections.open":
            return {"ok": True, "url": self.url.replace("http://", "ws://") + "/socket"}
        if method == "auth.test":
            return {
                "ok": True,
                "user_id": "UBOT",
                "bot_id": "BBOT",
                "team_id": "T111",
                "user": "lookout",
                "url": "https://example.slack.com/",
                **({"enterprise_id": self.enterprise} if self.enterprise else {}),
            }
        if method in ("chat.postMessage", "chat.update"):
            ts = params.get("ts") or self.next_ts()
            message: dict[str, Any] = {"type": "message", "text": params.get("text"), "ts": ts}
            # The fake's ts are small fixed numbers; `oldest` is compared with when it was sent.
            message["_sent"] = time.time()
            if params.get("thread_ts"):
                message["thread_ts"] = params["thread_ts"]
            metadata = params.get("metadata")
            if isinstance(metadata, str):
                metadata = json.loads(metadata)
            if method == "chat.postMessage":
                if metadata:
                    message["metadata"] = metadata
                self.history.setdefault(str(channel), []).append(message)
            shown = {k: v for k, v in message.items() if k != "_sent"}
            return {"ok": True, "channel": channel, "ts": ts, "message": shown}
        if method == "chat.getPermalink":
            # The documented answer: the workspace's archive URL of the message.
            ts = str(params.get("message_ts"))
            link = f"https://example.slack.com/archives/{channel}/p{ts.replace('.', '')}"
            return {"ok": True, "channel": channel, "permalink": link}
        if method == "conversations.history":
            oldest = float(params.get("oldest") or 0)
            with_metadata = str(params.get("include_all_metadata")).lower() in ("1", "true")
            hidden = {"_sent"} if with_metadata else {"_sent", "metadata"}
            found = [
                {k: v for k, v in m.items() if k not in hidden}
                for m in reversed(self.history.get(str(channel), []))
                if m["_sent"] >= oldest
                and "thread_ts" not in m
                and (str(channel), m["ts"]) not in self.deleted
            ]
            return {"ok": True, "messages": found, "has_more": False}
        if method == "conversations.list":
            channels = [{"id": cid, "name": name.lstrip("#")} for name, cid in CHANNEL_IDS.items()]
            return {"ok": True, "channels": channels, "response_metadata": {"next_cursor": ""}}
        if method == "conversations.info":
            # api.slack.com/methods/conversations.info: the channel by id, with its name.
            names = {cid: name.lstrip("#") for name, cid in CHANNEL_IDS.items()}
            if channel not in names:
                return {"ok": False, "error": "channel_not_found"}
            return {"ok": True, "channel": {"id": channel, "name": names[str(channel)]}}
        if method == "conversations.open":
            return {"ok": True, "channel": {"id": f"D{params.get('users', 'X')}"}}
        if method == "chat.postEphemeral":
            return {"ok": True, "message_ts": self.next_ts()}
        if method == "files.getUploadURLExternal":
            file_id = f"F{len(self.calls):05d}"
            return {"ok": True, "upload_url": f"{self.url}/upload/{file_id}", "file_id": file_id}
        if method == "files.completeUploadExternal":
            raw = params.get("files") or "[]"
            files: list[dict[str, Any]] = json.loads(raw) if isinstance(raw, str) else raw
            return {"ok": True, "files": [{"id": f["id"], "title": f.get("title")} for f in files]}
        if method == "files.info":
            return {"ok": True, "file": {"id": params.get("file")}}
        if method in ("views.open", "views.push", "views.update"):
            view = params.get("view")
            view = json.loads(view) if isinstance(view, str) else dict(view or {})
            if not params.get("trigger_id") and method != "views.update":
                return {"ok": False, "error": "invalid_trigger_id"}
            view_id = f"V{len(self.calls):05d}"
            return {"ok": True, "view": {**view, "id": view_id, "state": {"values": {}}}}
        return {"ok": True}

    async def upload(self, request: Request) -> Response:
        self.record("upload", {"size": len(await request.body())})
        return PlainTextResponse("OK - 1")

    async def hook(self, request: Request) -> Response:
        """A response_url call; `_hook` says which response_url it was."""
        body = json.loads(await request.body())
        self.record("response_url", {**body, "_hook": request.path_params["name"]})
        return PlainTextResponse("ok")

    async def socket(self, websocket: WebSocket) -> None:
        """Socket Mode: say hello, then relay envelopes queued by the test; keep the acks."""
        await websocket.accept()
        await websocket.send_json({"type": "hello", "num_connections": 1})
        self.socket_connected.set()

        async def pump() -> None:
            while True:
                await websocket.send_json(await self.envelopes.get())

        sender = asyncio.create_task(pump())
        try:
            while True:
                self.record("socket_ack", json.loads(await websocket.receive_text()))
        except WebSocketDisconnect:
            pass
        finally:
            sender.cancel()

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                WebSocketRoute("/socket", self.socket),
                Route("/api/{method}", self.api, methods=["POST", "GET"]),
                Route("/upload/{file}", self.upload, methods=["POST"]),
                Route("/hooks/{name}", self.hook, methods=["POST"]),
            ]
        )


async def start_fake_slack() -> tuple[FakeSlack, uvicorn.Server, asyncio.Task[None]]:
    fake = FakeSlack()
    port = free_port()
    fake.url = f"http://127.0.0.1:{port}"
    server = uvicorn.Server(
        uvicorn.Config(fake.app(), host="127.0.0.1", port=port, log_config=None, lifespan="off")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    return fake, server, task
