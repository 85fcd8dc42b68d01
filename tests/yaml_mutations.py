"""Hypothesis strategies for YAML readers: real files edited as text and as data, and the
edge cases YAML itself brings (deep nesting, tags, impossible dates, anchors, bad bytes)."""

from __future__ import annotations

from typing import Any

import yaml
from hypothesis import strategies as st

from tests.mutations import mutated

EDGES = [
    "",
    "~",
    "[" * 5000,
    "a: " + "[" * 3000 + "]" * 3000,
    "a: 2001-13-14",
    "a: 0000-01-01",
    "a: 1e999999",
    "a: !!python/object/apply:os.system ['true']",
    "a: !!binary AAA=",
    "a: &x [*x]",
    "? [a, b]\n: c",
    "a: b\na: c",
    "\t- tab",
    "- - - - -",
    "%YAML 9.9\n---\na: 1",
    "a: '\x00'",
    "a: !!set {x, y}",
    "a: !!timestamp 2026-11-30T25:00:00Z",
    "a: !!int 0x" + "f" * 40,
]
INSERTIONS = [
    ":",
    "- ",
    "[",
    "]",
    "{",
    "}",
    "*a",
    "&a ",
    "!!str ",
    "'",
    '"',
    "\t",
    "\n",
    "#",
    "|",
    ">",
]


@st.composite
def edited_text(draw: st.DrawFn, text: str) -> str:
    """`text` with a few characters inserted or removed at random places."""
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        at = draw(st.integers(min_value=0, max_value=len(text)))
        if draw(st.booleans()):
            piece = draw(st.sampled_from(INSERTIONS) | st.text(max_size=3))
            text = text[:at] + piece + text[at:]
        else:
            text = text[:at] + text[at + draw(st.integers(1, 20)) :]
    return text


def yaml_documents(text: str) -> st.SearchStrategy[str]:
    """Edits of a real YAML file: as text, as data (dumped back), and YAML's edge cases."""
    data: Any = yaml.safe_load(text)
    as_data = mutated(data).map(lambda value: yaml.safe_dump(value, allow_unicode=True))
    return st.one_of(edited_text(text), as_data, st.sampled_from(EDGES))
