"""A promql step: poll a query until its condition holds ("error rate back under 1 %"), or
fail at the step's timeout with the last value seen."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from integrations.prometheus import Sample
from runbooks.actions import PromqlAction

QueryFunction = Callable[[str], Awaitable[Sequence[Sample]]]
SHOWN_SAMPLES = 5
MIN_QUERY_SECONDS = 1.0


@dataclass(frozen=True)
class PromqlResult:
    ok: bool
    cancelled: bool
    error: str | None
    output: str


def condition_holds(action: PromqlAction, samples: Sequence[Sample]) -> bool:
    if action.empty:
        return not samples
    if not samples:
        return False
    return all(
        (action.below is None or s.value < action.below)
        and (action.above is None or s.value > action.above)
        for s in samples
    )


def describe_samples(samples: Sequence[Sample]) -> str:
    if not samples:
        return "no samples"
    shown = []
    for sample in samples[:SHOWN_SAMPLES]:
        labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
        shown.append(f"{{{labels}}} {sample.value:g}")
    more = f" (+{len(samples) - SHOWN_SAMPLES} more)" if len(samples) > SHOWN_SAMPLES else ""
    return "; ".join(shown) + more


async def run_promql(
    action: PromqlAction, *, query: QueryFunction, cancel: asyncio.Event
) -> PromqlResult:
    deadline = time.monotonic() + action.timeout
    last = "no answer yet"
    polls = 0
    while True:
        polls += 1
        # The last poll may land on the deadline; it still gets a moment to answer.
        remaining = deadline - time.monotonic()
        try:
            async with asyncio.timeout(max(remaining, MIN_QUERY_SECONDS)):
                samples = await query(action.query)
        except TimeoutError:
            last = "the query did not answer in time"
        except Exception as error:  # any failing query is retried until the deadline
            last = f"query error: {error}"
        else:
            last = describe_samples(samples)
            if condition_holds(action, samples):
                return PromqlResult(
                    True, False, None, f"condition met after {polls} poll(s): {last}"
                )
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            reason = f"condition not met within {action.timeout:g}s; last: {last}"
            return PromqlResult(False, False, reason, last)
        try:
            async with asyncio.timeout(min(action.poll_seconds, remaining)):
                await cancel.wait()
            return PromqlResult(False, True, "cancelled while waiting for the condition", last)
        except TimeoutError:
            continue
