"""The two worker threads retrieval runs its blocking work on: one for queries, one for
indexing. Few threads on purpose: each thread that allocates gets its own malloc arena,
which keeps freed memory (model activations are tens of MB), and queries must not queue
behind a long indexing batch."""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")

# Threads start on first use, not at import.
QUERY = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lookout-knowledge-query")
INDEXING = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lookout-knowledge-index")


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
