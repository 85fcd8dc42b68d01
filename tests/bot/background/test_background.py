"""The background pass under the notifier and the tracker watcher: a burst of wakes is one
pass, the timer passes when nothing wakes it, a failing pass is counted and retried."""

from __future__ import annotations

import asyncio

from bot.background.passes import BackgroundPass
from bot.metrics import Metrics


async def test_a_burst_of_wakes_is_one_pass_and_a_failure_is_counted_then_retried() -> None:
    metrics = Metrics()
    passes: list[int] = []
    done = asyncio.Event()

    async def work() -> None:
        passes.append(len(passes))
        if len(passes) == 1:
            raise RuntimeError("first pass breaks")
        done.set()

    background = BackgroundPass("test", work, interval=60, debounce=0.05, metrics=metrics)
    background.start()
    try:
        for _ in range(5):
            background.wake()
        await asyncio.sleep(0.2)
        assert passes == [0]  # five wakes within the debounce: one pass
        failures = metrics.registry.get_sample_value("lookout_errors_total", {"where": "test"})
        assert failures == 1
        background.wake()
        await asyncio.wait_for(done.wait(), timeout=2)
        assert passes == [0, 1]
    finally:
        await background.stop()
    background.wake()
    await asyncio.sleep(0.1)
    assert passes == [0, 1]  # stopped: no more passes


async def test_the_timer_passes_when_nothing_wakes_it() -> None:
    ran = asyncio.Event()

    async def work() -> None:
        ran.set()

    background = BackgroundPass("timer", work, interval=0.05, debounce=0, metrics=Metrics())
    background.start()
    try:
        await asyncio.wait_for(ran.wait(), timeout=2)
    finally:
        await background.stop()
