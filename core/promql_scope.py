"""Which services a PromQL query reads, from its selectors.

Prometheus has no tenants: a query reads whatever its selectors match. A person limited to
some projects may run a query only when every selector is pinned to services they may see,
the way prom-label-proxy (github.com/prometheus-community/prom-label-proxy) enforces one
label on every selector. A selector is pinned when it has an equality matcher on one of the
service labels (`{service="checkout"}`, `{job="payments"}`) or a regex matcher that is a plain
alternation of names (`{service=~"checkout|payments"}`); a selector with `or` alternatives is
pinned when each alternative is. The query is parsed with promql-parser (the Rust PromQL
parser of GreptimeDB, github.com/GreptimeTeam/promql-parser), never by hand.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import promql_parser

# A regex matcher that is only names separated by `|` (no other metacharacter).
_ALTERNATION = re.compile(r"[\w:/-]+(?:\|[\w:/-]+)*")
_CHILDREN = ("expr", "lhs", "rhs", "param", "vector_selector")


class PromQLError(ValueError):
    """The query is not PromQL; the message is the parser's, in one line."""


@dataclass(frozen=True)
class ReadScope:
    """`services`: the services the pinned selectors name; `unpinned`: the selectors that
    name no service, so read every service's series (by metric name, else as written)."""

    services: frozenset[str]
    unpinned: tuple[str, ...]


def read_scope(query: str, service_labels: Sequence[str]) -> ReadScope:
    """The services `query` reads through each of its vector and matrix selectors, subqueries
    and function arguments included. Raises PromQLError when it does not parse."""
    try:
        tree = promql_parser.parse(query)
    except (ValueError, TypeError) as error:
        raise PromQLError(" ".join(str(error).split())[:300]) from None
    services: set[str] = set()
    unpinned: list[str] = []
    for selector in _selectors(tree):
        alternatives = selector.matchers.or_matchers or [selector.matchers.matchers]
        named = [_pinned(matchers, service_labels) for matchers in alternatives]
        if any(names is None for names in named):
            unpinned.append(selector.name or str(selector))
            continue
        services.update(name for names in named if names for name in names)
    return ReadScope(frozenset(services), tuple(unpinned))


def _pinned(matchers: Sequence[Any], service_labels: Sequence[str]) -> set[str] | None:
    """The services one conjunction of matchers pins; None when it pins none. With several
    pinning matchers the series must satisfy all, so any one of them bounds the read."""
    for matcher in matchers:
        if matcher.name not in service_labels:
            continue
        operator = str(matcher.op).rsplit(".", 1)[-1]
        if operator == "Equal" and matcher.value:
            return {matcher.value}
        if operator == "Re" and _ALTERNATION.fullmatch(matcher.value):
            return set(matcher.value.split("|"))
    return None


def _selectors(node: Any) -> Iterator[Any]:
    if isinstance(node, promql_parser.VectorSelector):
        yield node
        return
    for name in _CHILDREN:
        child = getattr(node, name, None)
        if child is not None:
            yield from _selectors(child)
    for argument in getattr(node, "args", None) or ():
        yield from _selectors(argument)
