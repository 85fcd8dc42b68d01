"""Where retrieval's blocking work runs: a person's query on the query thread at normal
priority; background queries and indexing on the background thread at a lower priority, so
that an alert storm's "Seen before?" checks leave the CPU to ingestion and commands."""

from __future__ import annotations

import os
import threading

from knowledge.threads import (
    BACKGROUND,
    INDEXING,
    NICENESS,
    QUERY,
    background_work,
    in_thread,
    query_executor,
)


def where() -> tuple[str, int]:
    """The calling thread's name and niceness."""
    return (
        threading.current_thread().name,
        os.getpriority(os.PRIO_PROCESS, threading.get_native_id()),
    )


async def test_background_work_runs_behind_peoples_queries() -> None:
    base = os.getpriority(os.PRIO_PROCESS, 0)
    name, niceness = await in_thread(query_executor(), where)
    assert name.startswith("lookout-knowledge-query") and niceness == base
    with background_work():
        assert query_executor() is BACKGROUND
        name, niceness = await in_thread(query_executor(), where)
    assert name.startswith("lookout-knowledge-background")
    assert niceness == min(base + NICENESS, 19)
    assert query_executor() is QUERY  # only inside
    name, niceness = await in_thread(INDEXING, where)
    assert name.startswith("lookout-knowledge-background")
    assert niceness == min(base + NICENESS, 19)
