"""The two worker threads retrieval runs its blocking work on: one for people's queries, one
for background work (indexing, and the queries of "Seen before?" on new incidents, which the
knowledge pass runs after indexing anyway). Few threads on purpose: each thread that
allocates gets its own malloc arena, which keeps freed memory (model activations are tens of
MB), and a person's query must not queue behind a long indexing batch.

The background thread runs at a lower scheduling priority (niceness +10; on Linux niceness
is per thread, setpriority(2)), so that during an alert storm the embedding of hundreds of
new incidents takes only the CPU that ingestion and commands leave: the event loop, which
answers webhooks and Slack, wins a contended core about ten to one (the Linux scheduler's
weights for niceness 0 and 10)."""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import functools
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")

NICENESS = 10


def _yield_cpu() -> None:
    """Lower the calling worker thread's priority (nothing where that is not possible)."""
    with suppress(OSError, AttributeError):
        thread = threading.get_native_id()
        current = os.getpriority(os.PRIO_PROCESS, thread)
        os.setpriority(os.PRIO_PROCESS, thread, min(current + NICENESS, 19))


# Threads start on first use, not at import.
QUERY = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lookout-knowledge-query")
INDEXING = ThreadPoolExecutor(
    max_workers=1, thread_name_prefix="lookout-knowledge-background", initializer=_yield_cpu
)
BACKGROUND = INDEXING  # background queries share it
_in_background: ContextVar[bool] = ContextVar("lookout_knowledge_background", default=False)


@contextmanager
def background_work() -> Iterator[None]:
    """Within it (the task and what it awaits), queries are background work: they run on
    the low-priority background thread, never delaying a person's query."""
    token = _in_background.set(True)
    try:
        yield
    finally:
        _in_background.reset(token)


def query_executor() -> ThreadPoolExecutor:
    """Where one query's blocking work runs: the background thread inside
    `background_work()`, else the query thread."""
    return BACKGROUND if _in_background.get() else QUERY


async def in_thread(
    executor: ThreadPoolExecutor, function: Callable[P, T], *args: P.args, **kwargs: P.kwargs
) -> T:
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(executor, functools.partial(function, *args, **kwargs))


def _malloc_trim() -> Callable[[int], int] | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim: Callable[[int], int] = libc.malloc_trim
    except (OSError, AttributeError):  # not glibc: nothing to do
        return None
    return trim


_TRIM = _malloc_trim()


def release_memory() -> None:
    """Give freed heap memory back to the system (glibc's `malloc_trim`): loading the model
    and embedding a batch free tens of MB that malloc would otherwise keep."""
    if _TRIM is not None:
        _TRIM(0)
