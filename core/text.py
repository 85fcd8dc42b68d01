"""Text that fits a database column, however long the alert that brought it.

PostgreSQL refuses a value longer than its `varchar(n)` and cannot index a text of more than
about 2,700 bytes; SQLite enforces neither. Values from alerts (service and alert names,
receivers, group keys) can be any length, so the columns that hold them get a bounded form:
the value itself when it fits, else its start, an ellipsis and a hash of the whole, so that
two long values that differ only at their ends stay two values. The full text is always kept
in the alert's labels.
"""

from __future__ import annotations

import hashlib

DEFAULT_LIMIT = 255
# An Alertmanager groupKey holds its route's matchers and group labels: longer than a name,
# and indexed, so its bound keeps it under PostgreSQL's index entry limit in any script.
GROUP_KEY_LIMIT = 600


def bounded(value: str, limit: int = DEFAULT_LIMIT) -> str:
    """`value` when it has at most `limit` characters, else a `limit`-character form of it
    (prefix, "…", the first 12 hex digits of its SHA-256) that is unique in practice."""
    if len(value) <= limit:
        return value
    digest = hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:12]
    return f"{value[: limit - len(digest) - 1]}…{digest}"


def bounded_or_none(value: str | None, limit: int = DEFAULT_LIMIT) -> str | None:
    return None if value is None else bounded(value, limit)
