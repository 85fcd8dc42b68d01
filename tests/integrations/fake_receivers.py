"""Local fakes of what Lookout pages, speaking their real wire protocols over HTTP on
loopback: PagerDuty's Events API v2 (`POST /v2/enqueue`, 202 and its JSON) and webhook
receivers (`POST /hooks/<name>`). Both record every request and answer the next ones with
the statuses a test queues (429 with Retry-After, 5xx, 400)."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.conftest import free_port


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    status: int

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class FakeReceivers:
    url: str = ""
    requests: list[Received] = field(default_factory=list)
    answers: dict[str, list[tuple[int, dict[str, str]]]] = field(default_factory=dict)

    def fail_next(
        self,
        status: int,
        *,
        retry_after: str | None = None,
        times: int = 1,
        on: str = "/v2/enqueue",
    ) -> None:
        """Answer the next `times` requests to paths starting with `on` with `status`."""
        headers = {"Retry-After": retry_after} if retry_after else {}
        self.answers.setdefault(on, []).extend([(status, headers)] * times)

    @property
    def events_url(self) -> str:
        return f"{self.url}/v2/enqueue"

    def hook_url(self, name: str) -> str:
        return f"{self.url}/hooks/{name}"

    def to(self, prefix: str, *, accepted: bool = True) -> list[Received]:
        return [
            r
            for r in self.requests
            if r.path.startswith(prefix) and (not accepted or r.status < 300)
        ]

    async def _answer(self, request: Request) -> Response:
        body = await request.body()
        path = request.url.path
        queue = next((q for prefix, q in self.answers.items() if path.startswith(prefix)), [])
        status, headers = queue.pop(0) if queue else (0, {})
        if not status:
            status = 202 if path == "/v2/enqueue" else 200
        self.requests.append(Received(path, dict(request.headers), body, status))
        if path == "/v2/enqueue":
            if status == 202:
                key = json.loads(body).get("dedup_key")
                payload = {"status": "success", "message": "Event processed", "dedup_key": key}
                return JSONResponse(payload, status_code=202)
            if status == 400:
                payload = {
                    "status": "Unrecognized object",
                    "message": "Event object format is unrecognized",
                    "errors": ["JSON parse error"],
                }
                return JSONResponse(payload, status_code=400)
            return JSONResponse({"status": "throttled"}, status_code=status, headers=headers)
        return JSONResponse({"ok": status < 300}, status_code=status, headers=headers)

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/v2/enqueue", self._answer, methods=["POST"]),
                Route("/hooks/{name}", self._answer, methods=["POST"]),
            ]
        )


async def start_receivers() -> tuple[FakeReceivers, uvicorn.Server, asyncio.Task[None]]:
    fake = FakeReceivers()
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
