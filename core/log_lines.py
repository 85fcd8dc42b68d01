"""Log lines as chat shows them: stack traces folded, secrets redacted, trace ids found.

Pure functions over `LogLine`s (event time, the stream's labels, the text). What Loki returns
is a line per row; a Java or Python stack trace is many rows, so continuation rows (`at …`,
`Caused by: …`, `File "…"`, indented lines, `Traceback …`) are folded into the line that
opened them before anything counts or mines them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from core.wording import plural

_CONTINUATION = re.compile(
    r"^(\s+at\s|\s*Caused by:|\s*\.\.\.\s*\d+\s+more|\s+File \""
    r"|Traceback \(most recent|\s{2,}\S|\t)"
)
_SECRETS = [
    # key=value / "key": "value" for names that hold secrets
    (
        re.compile(
            r"(?i)((?:password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key|"
            r"client[_-]?secret|authorization|session[_-]?id|cookie)\"?\s*[=:]\s*\"?)"
            r"(?:bearer\s+|basic\s+)?[^\s\"',;&]+"
        ),
        r"\1[REDACTED]",
    ),
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}"), r"\1 [REDACTED]"),
    (re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]+"), "[REDACTED JWT]"),
    (re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b"), "[REDACTED AWS KEY]"),
    (re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}"), "[REDACTED SLACK TOKEN]"),
    (re.compile(r"\bgh[pousr]_[A-Za-z0-9]{30,}"), "[REDACTED GITHUB TOKEN]"),
    (re.compile(r"://([^:/\s@]+):([^@/\s]+)@"), r"://\1:[REDACTED]@"),
    (
        re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----", re.S),
        "[REDACTED PRIVATE KEY]",
    ),
]
_TRACE_IDS = re.compile(
    r"(?i)(?:trace[_-]?id|traceid|x-request-id|request[_-]?id|correlation[_-]?id)"
    r"[\"']?\s*[=:]\s*[\"']?([A-Za-z0-9-]{8,64})"
)


@dataclass(frozen=True)
class LogLine:
    """One log line (or a folded stack trace): when, from which stream, what."""

    at: datetime
    text: str
    labels: Mapping[str, str] = field(default_factory=dict)

    @property
    def service(self) -> str | None:
        for key in ("service", "service_name", "app", "job", "container"):
            if self.labels.get(key):
                return self.labels[key]
        return None


def redact(text: str) -> str:
    """`text` with passwords, tokens, keys and credentials in URLs replaced by [REDACTED]."""
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


def fold_stack_traces(lines: Iterable[LogLine]) -> list[LogLine]:
    """Continuation rows of the same stream joined (with newlines) onto the row before; the
    input is in time order, the output too."""
    folded: list[LogLine] = []
    last_by_stream: dict[tuple[tuple[str, str], ...], int] = {}
    for line in lines:
        stream = tuple(sorted(line.labels.items()))
        index = last_by_stream.get(stream)
        if index is not None and _CONTINUATION.match(line.text):
            opened = folded[index]
            folded[index] = replace(opened, text=f"{opened.text}\n{line.text}")
            continue
        last_by_stream[stream] = len(folded)
        folded.append(line)
    return folded


def first_line(text: str, limit: int = 300) -> str:
    """The line that opened a folded trace, shortened; `(+N lines)` tells what was folded."""
    head, _, rest = text.partition("\n")
    more = rest.count("\n") + 1 if rest else 0
    head = head if len(head) <= limit else head[: limit - 1] + "…"
    return f"{head} (+{plural(more, 'line')})" if more else head


def trace_ids(text: str) -> list[str]:
    """Trace, request and correlation ids a line carries (`trace_id=…`, `traceId: …`)."""
    return list(dict.fromkeys(match for match in _TRACE_IDS.findall(text)))


class LogRules(BaseModel):
    """The `logs:` section of LOOKOUT_CONFIG (used when LOKI_URL is set): how a service's
    streams are selected, what counts as an error line, and how much to read."""

    model_config = ConfigDict(extra="forbid")

    selector: str = Field(
        default='{service="$service"}', description="LogQL stream selector; $service is replaced"
    )
    all_services: str = Field(
        default='{service=~".+"}', description="selector for every service (trace search)"
    )
    errors: str = Field(
        default="(?i)(error|exception|fatal|panic|traceback)",
        description="a line filter regex (RE2) for error lines",
    )
    limit: int = Field(default=2000, ge=10, le=5000, description="lines per query")
    timeout_seconds: float = Field(default=10, gt=0, le=60)


def error_query(rules: LogRules, service: str) -> str:
    """`{service="checkout"} |~ "(?i)(error|…)"` for one service's error lines."""
    return f"{render_selector(rules.selector, service)} |~ {_quote(rules.errors)}"


def trace_query(rules: LogRules, trace_id: str) -> str:
    """Every service's lines that contain `trace_id`."""
    return f"{rules.all_services} |= {_quote(trace_id)}"


def render_selector(template: str, service: str) -> str:
    escaped = service.replace("\\", "\\\\").replace('"', '\\"')
    return template.replace("$service", escaped)


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
