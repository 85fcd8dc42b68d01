"""Runbook run ids as people write them (`R-12`)."""

from __future__ import annotations


def parse_run_ref(text: str) -> int:
    """Accept `R-12`, `r12` and `12`; raise ValueError otherwise."""
    cleaned = text.strip().upper().removeprefix("R-").removeprefix("R")
    if not cleaned.isdigit():
        raise ValueError(f"{text!r} is not a run id (try R-12)")
    return int(cleaned)
