"""Severity: one ordered scale for the many words alert rules use."""

from __future__ import annotations

import difflib
from enum import IntEnum


class Severity(IntEnum):
    """Ordered so that ``max()`` gives the worst."""

    INFO = 1
    WARNING = 2
    ERROR = 3
    CRITICAL = 4

    @property
    def label(self) -> str:
        return self.name.lower()


_SYNONYMS: dict[str, Severity] = {
    "critical": Severity.CRITICAL,
    "crit": Severity.CRITICAL,
    "page": Severity.CRITICAL,
    "emergency": Severity.CRITICAL,
    "disaster": Severity.CRITICAL,
    "fatal": Severity.CRITICAL,
    "p0": Severity.CRITICAL,
    "p1": Severity.CRITICAL,
    "sev1": Severity.CRITICAL,
    "error": Severity.ERROR,
    "err": Severity.ERROR,
    "major": Severity.ERROR,
    "severe": Severity.ERROR,
    "high": Severity.ERROR,
    "p2": Severity.ERROR,
    "sev2": Severity.ERROR,
    "warning": Severity.WARNING,
    "warn": Severity.WARNING,
    "minor": Severity.WARNING,
    "medium": Severity.WARNING,
    "p3": Severity.WARNING,
    "sev3": Severity.WARNING,
    "info": Severity.INFO,
    "informational": Severity.INFO,
    "low": Severity.INFO,
    "none": Severity.INFO,
    "p4": Severity.INFO,
    "p5": Severity.INFO,
}


def parse_severity(value: str | None) -> Severity:
    """Map a label value to the scale; unknown or missing values count as warnings."""
    if not value:
        return Severity.WARNING
    return _SYNONYMS.get(value.strip().lower(), Severity.WARNING)


def severity_from_name(name: str) -> Severity:
    """Parse a severity typed by a person; raises ValueError for words not on the scale."""
    try:
        return _SYNONYMS[name.strip().lower()]
    except KeyError:
        labels = [s.label for s in sorted(Severity, reverse=True)]
        close = difflib.get_close_matches(name.strip().lower(), list(_SYNONYMS), n=1, cutoff=0.6)
        hint = f" (did you mean {_SYNONYMS[close[0]].label}?)" if close else ""
        raise ValueError(
            f"unknown severity {name!r}: use one of {', '.join(labels)}{hint}"
        ) from None
