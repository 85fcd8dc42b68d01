"""What an alert's rule queried, read from the alert itself.

Prometheus (and the Thanos ruler) set an alert's `generatorURL` to the expression browser at
the rule's query: `<external URL>/graph?g0.expr=<the PromQL, URL-encoded>&g0.tab=1`
(Prometheus `rules/alerting.go` → `strutil.TableLinkForExpression`). The metric names in that
expression say what an alert is about whatever the rule's author named it: `PostgresDown`,
`PostgresqlDown` and `PGPrimaryLost` all query `pg_up`.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

EXPRESSION_PARAMETER = "g0.expr"
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_NAME_MATCHER = re.compile(r'__name__\s*=\s*"([^"\\]+)"')
_MATCHERS = re.compile(r"\{[^{}]*\}")
_RANGES = re.compile(r"\[[^\[\]]*\]")
_GROUPING = re.compile(
    r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)", re.IGNORECASE
)
_IDENTIFIER = re.compile(r"(?<![\w:.])([A-Za-z_:][A-Za-z0-9_:]*)(?![\w:])(\s*\()?")
_KEYWORDS = frozenset(
    {
        "and",
        "or",
        "unless",
        "bool",
        "offset",
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
        "atan2",
        "inf",
        "nan",
        "start",
        "end",
    }
)


def rule_expression(generator_url: str | None) -> str | None:
    """The PromQL of the rule behind an alert, from its `generatorURL`; None when the URL
    does not carry one (other sources, or a rule with no external URL set)."""
    if not generator_url:
        return None
    try:
        query = urlsplit(generator_url).query
    except ValueError:
        return None
    values = parse_qs(query).get(EXPRESSION_PARAMETER)
    return values[0].strip() or None if values else None


def metric_names(expression: str | None) -> frozenset[str]:
    """The metric names a PromQL expression selects (`max by (instance) (pg_up) == 0` →
    {pg_up}); functions, keywords, label names and string values are not metric names."""
    if not expression:
        return frozenset()
    named = set(_NAME_MATCHER.findall(expression))
    text = _STRING.sub(" ", expression)
    text = _MATCHERS.sub(" ", text)
    text = _RANGES.sub(" ", text)
    text = _GROUPING.sub(" ", text)
    for match in _IDENTIFIER.finditer(text):
        name, call = match.group(1), match.group(2)
        if call or name.lower() in _KEYWORDS:
            continue
        named.add(name)
    return frozenset(named)
