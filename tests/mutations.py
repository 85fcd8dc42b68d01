"""Hypothesis strategies for parser tests: any JSON value, and mutations of a real document
(a value replaced by any other, a key dropped or added, a list emptied or repeated), so
generated inputs stay close to what senders really write."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st

SETTINGS = settings(max_examples=150, deadline=None, derandomize=True, database=None)

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=40)
    | st.sampled_from(
        [
            "",
            "0001-01-01T00:00:00Z",
            "9999-12-31T23:59:59-01:00",
            "0000-01-01T00:00:00Z",
            "2026-02-30T00:00:00Z",
            "2026-11-30T12:00:00.123456789+05:30",
            "\x00",
            "\ud800",
            "é" * 300,
            "x" * 5000,
            "firing",
            "resolved",
        ]
    )
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=20,
)


def _paths(document: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(document, dict):
        for key, value in document.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(document, list):
        for index, value in enumerate(document):
            found += _paths(value, (*prefix, index))
    return found


@st.composite
def mutated(draw: st.DrawFn, document: Any, rounds: int = 3) -> Any:
    """`document` with up to `rounds` random edits at random places."""
    result = copy.deepcopy(document)
    for _ in range(draw(st.integers(min_value=1, max_value=rounds))):
        path = draw(st.sampled_from(_paths(result)))
        if not path:
            result = draw(json_values) if draw(st.integers(0, 9)) == 0 else result
            continue
        parent = result
        for part in path[:-1]:
            parent = parent[part]
        last = path[-1]
        action = draw(st.sampled_from(["replace", "drop", "add", "double"]))
        if action == "replace":
            parent[last] = draw(json_values)
        elif action == "drop":
            del parent[last]
        elif action == "add" and isinstance(parent[last], dict):
            parent[last][draw(st.text(max_size=12))] = draw(json_values)
        elif action == "double" and isinstance(parent[last], list):
            parent[last] = parent[last] * 2
        elif action == "double" and isinstance(parent[last], str):
            parent[last] = parent[last] * draw(st.integers(0, 50))
    return result
