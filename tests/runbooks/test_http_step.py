"""http steps against a real HTTP server on 127.0.0.1: the host allowlist holds before any
request and on every redirect."""

from __future__ import annotations

import json
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from runbooks.actions import HttpAction
from runbooks.executor import Executor
from runbooks.plan import PlanError
from runbooks.results import RunStatus, StepStatus

from .conftest import config, plan, runbook


@dataclass
class Recorder:
    port: int = 0
    requests: list[tuple[str, str, bytes]] = field(default_factory=list)
    failures_left: int = 0


def handler_for(recorder: Recorder) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            recorder.requests.append((self.command, self.path, body))
            if self.path.startswith("/redirect-out"):
                self._send(302, b"", {"Location": f"http://localhost:{recorder.port}/ok"})
            elif self.path.startswith("/redirect-in"):
                self._send(302, b"", {"Location": "/ok"})
            elif self.path.startswith("/flaky") and recorder.failures_left > 0:
                recorder.failures_left -= 1
                self._send(503, b"try again")
            elif self.path.startswith("/secret"):
                self._send(200, b'{"token": "abcd1234efgh5678"}')
            else:
                self._send(200, b"fine: " + body)

        def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _answer

    return Handler


@pytest.fixture
def server() -> Iterator[Recorder]:
    recorder = Recorder()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler_for(recorder))
    recorder.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield recorder
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as http:
        yield http


def http_runbook(url: str, **extra: object) -> str:
    options = "".join(f"\n        {key}: {json.dumps(value)}" for key, value in extra.items())
    return f"""
    name: call
    title: Call
    risk: low
    parameters: [{{name: item, type: string, pattern: '.*', default: x}}]
    steps:
      - name: call
        kind: http
        method: POST
        url: "{url}"
        json: {{item: "{{{{item}}}}"}}{options}
    """


def make_executor(tmp_path: Path, client: httpx.AsyncClient, **changes: object) -> Executor:
    settings = config(tmp_path, http_hosts=["127.0.0.1"], **changes)
    return Executor(settings, environ={}, http=client)


async def test_an_allowed_host_is_called(
    tmp_path: Path, server: Recorder, client: httpx.AsyncClient
) -> None:
    runner = make_executor(tmp_path, client)
    book = runbook(http_runbook(f"http://127.0.0.1:{server.port}/ok/{{{{item}}}}"))

    result = await runner.run(plan(runner, book, item="a?b=c#d"))

    assert result.status is RunStatus.SUCCEEDED
    [(method, path, body)] = server.requests
    assert method == "POST"
    # The value stayed one path segment: its `?` and `#` were encoded, not obeyed.
    assert path == "/ok/a%3Fb%3Dc%23d"
    assert json.loads(body) == {"item": "a?b=c#d"}
    assert result.steps[0].output.startswith("HTTP 200 OK\nfine: ")


async def test_another_host_is_refused_before_any_request(
    tmp_path: Path, server: Recorder, client: httpx.AsyncClient
) -> None:
    runner = make_executor(tmp_path, client)
    book = runbook(http_runbook(f"http://localhost:{server.port}/ok"))
    with pytest.raises(PlanError, match="is not an allowed host"):
        plan(runner, book)

    # A plan changed after it was built is checked again by the executor.
    allowed = plan(runner, runbook(http_runbook(f"http://127.0.0.1:{server.port}/ok")))
    step = allowed.steps[0]
    assert isinstance(step.action, HttpAction)
    moved = replace(step, action=replace(step.action, url=f"http://localhost:{server.port}/ok"))
    result = await runner.run(replace(allowed, steps=(moved,)))

    assert result.steps[0].status is StepStatus.FAILED
    assert result.steps[0].error == "localhost is not an allowed host"
    assert server.requests == []


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1@evil.example/",
        "http://evil.example/?http://127.0.0.1/",
        "http://127.0.0.1.evil.example/",
        "file:///etc/passwd",
    ],
)
def test_urls_that_only_look_allowed_are_refused(
    tmp_path: Path, client: httpx.AsyncClient, url: str
) -> None:
    runner = make_executor(tmp_path, client)
    with pytest.raises(Exception, match=r"not an allowed host|url must start"):
        plan(runner, runbook(http_runbook(url)))


def test_a_parameter_cannot_change_the_host(tmp_path: Path, client: httpx.AsyncClient) -> None:
    runner = make_executor(tmp_path, client)
    book = runbook(http_runbook("http://127.0.0.1{{item}}/"))
    with pytest.raises(PlanError, match="not an allowed host"):
        plan(runner, book, item="@evil.example")


async def test_a_redirect_to_another_host_is_refused(
    tmp_path: Path, server: Recorder, client: httpx.AsyncClient
) -> None:
    runner = make_executor(tmp_path, client)
    book = runbook(http_runbook(f"http://127.0.0.1:{server.port}/redirect-out"))

    result = await runner.run(plan(runner, book))

    assert result.steps[0].status is StepStatus.FAILED
    assert result.steps[0].error == "localhost is not an allowed host"
    assert [path for _, path, _ in server.requests] == ["/redirect-out"]


async def test_a_redirect_within_the_allowed_host_is_followed(
    tmp_path: Path, server: Recorder, client: httpx.AsyncClient
) -> None:
    runner = make_executor(tmp_path, client)
    book = runbook(http_runbook(f"http://127.0.0.1:{server.port}/redirect-in"))

    result = await runner.run(plan(runner, book))

    assert result.status is RunStatus.SUCCEEDED
    assert [path for _, path, _ in server.requests] == ["/redirect-in", "/ok"]


async def test_retries_until_the_expected_status(
    tmp_path: Path, server: Recorder, client: httpx.AsyncClient
) -> None:
    server.failures_left = 2
    runner = make_executor(tmp_path, client)
    url = f"http://127.0.0.1:{server.port}/flaky"
    book = runbook(http_runbook(url, retries=2, retry_delay_seconds=0, expect_status=[200]))

    result = await runner.run(plan(runner, book))

    assert result.status is RunStatus.SUCCEEDED
    assert len(server.requests) == 3


async def test_an_unexpected_status_fails_after_the_retries(
    tmp_path: Path, server: Recorder, client: httpx.AsyncClient
) -> None:
    server.failures_left = 5
    runner = make_executor(tmp_path, client)
    url = f"http://127.0.0.1:{server.port}/flaky"
    book = runbook(http_runbook(url, retries=1, retry_delay_seconds=0))

    result = await runner.run(plan(runner, book))

    assert result.status is RunStatus.FAILED
    assert result.steps[0].error == "HTTP 503, expected 2xx"
    assert len(server.requests) == 2


async def test_response_bodies_are_redacted(
    tmp_path: Path, server: Recorder, client: httpx.AsyncClient
) -> None:
    runner = make_executor(tmp_path, client)
    book = runbook(http_runbook(f"http://127.0.0.1:{server.port}/secret"))

    result = await runner.run(plan(runner, book))

    assert "abcd1234efgh5678" not in result.steps[0].output
    assert '"token": "***"' in result.steps[0].output


async def test_configured_variables_fill_base_urls(
    tmp_path: Path, server: Recorder, client: httpx.AsyncClient
) -> None:
    base = f"http://127.0.0.1:{server.port}"
    runner = make_executor(tmp_path, client, variables={"api": base})
    book = runbook(http_runbook("{{vars.api}}/ok"))

    result = await runner.run(plan(runner, book))

    assert result.status is RunStatus.SUCCEEDED
    missing = make_executor(tmp_path, client)
    with pytest.raises(PlanError, match="nothing provides"):
        plan(missing, book)
