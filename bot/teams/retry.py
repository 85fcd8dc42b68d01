"""Calls to the Bot Connector, retried on 429 and 5xx, honouring Retry-After.

The connector client (msrest over requests) would otherwise retry 5xx on its own with a
fixed backoff and never 429; we switch its status retries off and keep one policy here.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from botbuilder.core import TurnContext

log = logging.getLogger(__name__)

T = TypeVar("T")


def http_status(error: BaseException) -> int | None:
    """The HTTP status behind a connector error (msrest's HttpOperationError), if any."""
    status = getattr(getattr(error, "response", None), "status_code", None)
    return status if isinstance(status, int) else None


def retry_after(error: BaseException) -> float | None:
    headers = getattr(getattr(error, "response", None), "headers", None) or {}
    value = headers.get("Retry-After")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None  # an HTTP date: fall back to our own backoff


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 10.0

    def delay(self, attempt: int, error: BaseException) -> float | None:
        """How long to wait before the next attempt; None when the service asks for longer
        than we hold a turn open (the caller fails, and the notifier retries much later)."""
        asked = retry_after(error)
        if asked is not None:
            return asked if asked <= self.max_delay else None
        return min(self.base_delay * 2.0**attempt, self.max_delay)

    async def run(self, call: Callable[[], Awaitable[T]], *, what: str) -> T:
        for attempt in range(self.attempts):
            try:
                return await call()
            except Exception as error:
                status = http_status(error)
                retryable = status is not None and (status == 429 or status >= 500)
                wait = self.delay(attempt, error) if retryable else None
                if wait is None or attempt == self.attempts - 1:
                    raise
                log.warning(
                    "Bot Connector answered %s; retrying",
                    status,
                    extra={"what": what, "attempt": attempt + 1, "wait": wait},
                )
                await asyncio.sleep(wait)
        raise AssertionError("unreachable")


def own_the_retries(turn_context: TurnContext) -> Any:
    """The turn's connector client, with msrest's status-code retries turned off."""
    client = turn_context.turn_state.get(turn_context.adapter.BOT_CONNECTOR_CLIENT_KEY)
    if client is not None:
        client.config.retry_policy.policy.status_forcelist = frozenset()
    return client
