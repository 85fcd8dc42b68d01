"""A background pass: work that runs when woken, and on a timer when nothing wakes it.

The notifier and the blast-tracker watcher are both this: something changed (wake), let a
burst of changes settle (`debounce`), do one pass; with nothing to wake it, pass anyway every
`interval` seconds. A pass that fails is counted and logged; the next one retries.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from bot.metrics import Metrics

log = logging.getLogger(__name__)


class BackgroundPass:
    def __init__(
        self,
        name: str,
        work: Callable[[], Awaitable[Any]],
        *,
        interval: float,
        debounce: float,
        metrics: Metrics,
    ) -> None:
        self.name = name
        self._work = work
        self._interval = interval
        self._debounce = debounce
        self._metrics = metrics
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name=f"lookout-{self.name}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _loop(self) -> None:
        while True:
            # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation that
            # arrives while the event is being set, and the task would never stop.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._interval):
                    await self._wake.wait()
            self._wake.clear()
            await asyncio.sleep(self._debounce)  # let a burst of changes settle into one pass
            try:
                await self._work()
            except Exception:
                self._metrics.errors.labels(where=self.name).inc()
                log.exception(
                    "background pass failed; retrying on the next pass", extra={"task": self.name}
                )
