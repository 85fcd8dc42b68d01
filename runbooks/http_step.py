"""An http step: one request (with retries) to an allowed host, redirects checked hop by hop.

httpx would follow a redirect anywhere, so redirects are followed here instead, and each
`Location` must pass the same host allowlist as the step's own URL before it is requested.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from runbooks.actions import HttpAction
from runbooks.config import ExecutionConfig
from runbooks.redact import OutputBuffer

MAX_REDIRECTS = 5


class HostRefused(Exception):
    """A URL outside the allowlist: never requested, never retried."""


@dataclass(frozen=True)
class HttpResult:
    ok: bool
    status_code: int | None
    error: str | None
    output: OutputBuffer


async def run_http(
    action: HttpAction,
    *,
    client: httpx.AsyncClient,
    config: ExecutionConfig,
    new_output: Callable[[], OutputBuffer],
) -> HttpResult:
    attempts = action.retries + 1
    result = HttpResult(False, None, "not attempted", new_output())
    for attempt in range(attempts):
        if attempt:
            await asyncio.sleep(action.retry_delay)
        output = new_output()
        try:
            response_status = await _request(action, client, config, output)
        except HostRefused as error:
            return HttpResult(False, None, str(error), output)
        except httpx.HTTPError as error:
            result = HttpResult(False, None, f"{type(error).__name__}: {error}", output)
            continue
        if _expected(action, response_status):
            return HttpResult(True, response_status, None, output)
        wanted = ", ".join(map(str, action.expect_status)) or "2xx"
        result = HttpResult(
            False, response_status, f"HTTP {response_status}, expected {wanted}", output
        )
    return result


async def _request(
    action: HttpAction, client: httpx.AsyncClient, config: ExecutionConfig, output: OutputBuffer
) -> int:
    request = client.build_request(
        action.method,
        action.url,
        headers=dict(action.headers),
        json=action.json_body,
        timeout=action.timeout,
    )
    for _ in range(MAX_REDIRECTS + 1):
        if not config.host_allowed(request.url):
            raise HostRefused(f"{request.url.host or request.url} is not an allowed host")
        response = await client.send(request, stream=True, follow_redirects=False)
        try:
            wanted_redirect = response.status_code in action.expect_status
            if response.next_request is None or wanted_redirect:
                output.feed(f"HTTP {response.status_code} {response.reason_phrase}\n".encode())
                async for chunk in response.aiter_bytes():
                    output.feed(chunk)
                    if output.total > output.limit + output.SLACK:
                        break  # enough to show; the rest of a large body is not read
                return response.status_code
            request = response.next_request
        finally:
            await response.aclose()
    raise httpx.TooManyRedirects(f"more than {MAX_REDIRECTS} redirects", request=request)


def _expected(action: HttpAction, status: int) -> bool:
    if action.expect_status:
        return status in action.expect_status
    return 200 <= status < 300
