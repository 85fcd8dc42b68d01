"""Reading a request body with a size limit, for the routes that read theirs raw."""

from __future__ import annotations

import json
from typing import Any

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


class NotJSON(ValueError):
    """The body is not JSON: not UTF-8, not JSON text, or nested too deeply to read."""


def parse_json(body: bytes | str) -> Any:
    """The JSON document in `body`; NotJSON says why there is none (answered with a 400)."""
    try:
        return json.loads(body)
    except UnicodeDecodeError:
        raise NotJSON("body is not valid JSON: it is not UTF-8") from None
    except json.JSONDecodeError as error:
        raise NotJSON(f"body is not valid JSON: {error}") from None
    except RecursionError:
        raise NotJSON("body is not valid JSON: it is nested too deeply") from None
