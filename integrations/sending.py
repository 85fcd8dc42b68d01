"""How a notification to a machine failed, as the receiver's answer classifies it."""

from __future__ import annotations

from email.utils import parsedate_to_datetime

import httpx


class SendError(Exception):
    """A notification was not delivered. `permanent`: asking again the same way will never
    work (a 4xx other than 408/429, a bad address); otherwise it is retried, after at
    least `retry_after` seconds when the receiver said so (HTTP 429/503 Retry-After)."""

    def __init__(
        self, reason: str, *, permanent: bool = False, retry_after: float | None = None
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent
        self.retry_after = retry_after


def retry_after(response: httpx.Response) -> float | None:
    """Seconds the receiver asks to wait (RFC 9110 §10.2.3: seconds or an HTTP date)."""
    value = response.headers.get("retry-after")
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    date_header = response.headers.get("date")
    try:
        now = parsedate_to_datetime(date_header) if date_header else None
    except (TypeError, ValueError):
        now = None
    if now is None:
        return None
    return max((when - now).total_seconds(), 0.0)


def check_response(response: httpx.Response, what: str) -> None:
    """Raise SendError unless `response` is a 2xx: 408, 429 and 5xx are transient."""
    if response.is_success:
        return
    status = response.status_code
    body = response.text[:300].strip()
    reason = f"{what} answered HTTP {status}" + (f": {body}" if body else "")
    transient = status in (408, 425, 429) or status >= 500
    raise SendError(reason, permanent=not transient, retry_after=retry_after(response))


async def post_json(
    http: httpx.AsyncClient,
    url: str,
    *,
    content: bytes,
    headers: dict[str, str],
    what: str,
    seconds: float,
) -> httpx.Response:
    """POST a JSON body; network failures and timeouts become transient SendErrors."""
    try:
        response = await http.post(
            url,
            content=content,
            headers={"content-type": "application/json", **headers},
            timeout=seconds,
        )
    except httpx.TimeoutException as error:
        raise SendError(f"{what} did not answer within {seconds:g} s") from error
    except httpx.HTTPError as error:
        raise SendError(f"{what} could not be reached: {error!r}") from error
    check_response(response, what)
    return response
