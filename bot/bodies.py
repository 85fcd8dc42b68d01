"""Reading a request body with a size limit, for the routes that read theirs raw."""

from __future__ import annotations

from starlette.requests import Request

MAX_BODY = 1024 * 1024


class BodyTooLarge(Exception):
    """The body is larger than the limit given to `read_body` (answered with a 413)."""


async def read_body(request: Request, limit: int = MAX_BODY) -> bytes:
    """The whole body, refusing one past `limit` bytes (declared or sent) with BodyTooLarge."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)
