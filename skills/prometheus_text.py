"""What chat says when Prometheus could not answer: one plain sentence, never its raw error.

Prometheus' HTTP API says why it refused a query in `errorType` (`bad_data`, `execution`,
`timeout`, `canceled`, …) and `error`; a parse error names what it found and where
(`1:5: parse error: unclosed left parenthesis`). The sentence keeps that much, in words,
and the full text goes to Lookout's log.
"""

from __future__ import annotations

import logging
import re

from integrations.prometheus import (
    PrometheusError,
    PrometheusQueryError,
    PrometheusUnreachableError,
)

log = logging.getLogger(__name__)

_PARSE = re.compile(
    r"\d+:(?P<column>\d+): parse error: (?P<what>[A-Za-z][\w \"'`,.()\[\]{}=~!-]*)$"
)
SLOW = "Prometheus did not answer in time"


def prometheus_sentence(
    error: BaseException,
    *,
    narrower: str = "a shorter --since",
    configured: str | None = None,
    missing: str = "metrics to show",
) -> str:
    """One sentence for a failed Prometheus query. `narrower` is what the user can try when
    the query was too heavy or too slow; `configured` names where the query came from when
    the user did not type it (`the `slo:` files' queries`), since then only an admin can
    fix it; `missing` what there is none of when Prometheus is down."""
    if isinstance(error, PrometheusQueryError):
        log.info(
            "Prometheus refused a query",
            extra={"error_type": error.error_type, "reason": error.reason},
        )
        if error.error_type in ("timeout", "canceled"):
            return f"{SLOW}; try {narrower}." if configured is None else f"{SLOW}."
        if configured is not None:
            return (
                f"Prometheus refused {configured} (the reason is in Lookout's log); "
                "an admin can check them."
            )
        if error.error_type == "bad_data":
            found = _PARSE.search(error.reason.strip())
            if found is not None and len(found["what"]) <= 80:
                return (
                    "That is not PromQL Prometheus can read "
                    f"({found['what'].rstrip('.')} at character {found['column']}); "
                    "check the expression, e.g. `sum(rate(http_requests_total[5m]))`."
                )
            return (
                "Prometheus cannot read that query; check the expression, e.g. "
                "`sum(rate(http_requests_total[5m]))`."
            )
        if error.error_type == "execution":
            return (
                "Prometheus could not run that query (it may touch too many series or "
                f"points); try a narrower selector or {narrower}."
            )
        return "Prometheus could not answer that query; the details are in Lookout's log."
    if isinstance(error, TimeoutError):
        return f"{SLOW}; try again, or {narrower}." if configured is None else f"{SLOW}."
    if isinstance(error, PrometheusUnreachableError):
        return f"Prometheus is not answering right now, so there are no {missing}."
    if isinstance(error, PrometheusError):
        log.warning("Prometheus gave an answer Lookout cannot use", extra={"error": str(error)})
        return "Prometheus gave an answer Lookout cannot use; the details are in Lookout's log."
    raise error
