"""Runbook YAML from generated text: edits of the shipped library's runbooks (as text and as
data) and YAML's edge cases. `parse_runbook` raises only RunbookInvalid, and a runbook it
accepts dumps back to YAML that parses to the same runbook."""

from __future__ import annotations

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from runbooks.loader import RunbookInvalid, library_directory, parse_runbook, runbook_files
from tests.mutations import SETTINGS
from tests.yaml_mutations import EDGES, yaml_documents

LIBRARY = [path.read_text() for path in runbook_files(library_directory())]


@settings(SETTINGS, max_examples=80)
@given(st.sampled_from(LIBRARY).flatmap(yaml_documents))
def test_a_runbook_parses_or_raises_runbook_invalid(text: str) -> None:
    try:
        runbook = parse_runbook(text, "generated.yaml")
    except RunbookInvalid as error:
        assert error.problems
        return
    again = yaml.safe_dump(runbook.model_dump(mode="json", by_alias=True, exclude_unset=True))
    assert parse_runbook(again, "again.yaml") == runbook


@pytest.mark.parametrize("text", EDGES)
def test_yaml_edge_cases_are_runbook_problems(text: str) -> None:
    """`2001-13-14` (a date YAML cannot build) once escaped as ValueError, and deep nesting
    as RecursionError, instead of RunbookInvalid."""
    with pytest.raises(RunbookInvalid):
        parse_runbook(text, "edge.yaml")


def test_a_nul_character_is_a_runbook_problem() -> None:
    """YAML's reader refuses a NUL while it is built; that once escaped as ReaderError."""
    with pytest.raises(RunbookInvalid, match="YAML"):
        parse_runbook("name: x\x00\n", "nul.yaml")
