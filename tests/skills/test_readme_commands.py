"""The README's command table and the registry say the same thing: every verb, its aliases,
its usage line and its role, in the order `help` lists them; every example parses."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from skills import grammar
from skills.catalog import default_registry
from skills.errors import UsageError
from skills.registry import AnySkill

README = Path(__file__).resolve().parents[2] / "README.md"
CODE = re.compile(r"`([^`]+)`")


def table_rows(readme: Path = README) -> list[list[str]]:
    """The cells of each row of the table under `## Commands` (header and rule left out)."""
    text = readme.read_text(encoding="utf-8")
    section = text.split("\n## Commands\n", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        if not line.startswith("| `/lookout "):
            continue
        cells = re.split(r"(?<!\\)\|", line.strip())[1:-1]
        rows.append([cell.strip().replace("\\|", "|") for cell in cells])
    return rows


def expected_row(skill: AnySkill) -> tuple[str, str, str]:
    aliases = ", ".join(f"`{alias}`" for alias in skill.aliases) or "—"
    return f"/lookout {skill.usage}", aliases, skill.role.label


def check_table(readme: Path) -> None:
    skills = default_registry().skills
    rows = table_rows(readme)
    documented = [CODE.findall(row[0])[0] for row in rows]
    expected = [expected_row(skill) for skill in skills]
    # The same commands in the same order as `help`; a missing, extra or renamed verb fails.
    assert [usage.split()[1] for usage in documented] == [skill.verb for skill in skills]
    for row, (usage, aliases, role) in zip(rows, expected, strict=True):
        assert (CODE.findall(row[0])[0], row[1], row[3]) == (usage, aliases, role), (
            f"README row should read: | `{usage}` | {aliases} | … | {role} |"
        )


def test_every_command_is_in_the_readme_as_the_registry_declares_it() -> None:
    check_table(README)


def test_every_example_in_the_table_parses() -> None:
    registry = default_registry()
    examples = [example for row in table_rows() for example in CODE.findall(row[0])[1:]]
    assert examples  # the table shows other forms of some commands
    for example in examples:
        verb, rest = grammar.split_verb(example)
        skill = registry.get(verb)
        assert skill is not None, example
        try:
            grammar.parse(skill.verb, skill.args_model, rest)
        except UsageError as error:
            pytest.fail(f"`{example}` does not parse: {error}")


def test_the_table_check_fails_when_the_readme_drifts(tmp_path: Path) -> None:
    text = README.read_text(encoding="utf-8")
    drifted = tmp_path / "README.md"
    drifted.write_text(
        text.replace("`/lookout note [incident] <text…>`", "`/lookout note [words…]`"),
        encoding="utf-8",
    )
    with pytest.raises(AssertionError, match=r"note \[incident\] <text…>"):
        check_table(drifted)
    drifted.write_text(text.replace("| `comment` |", "| `remark` |"), encoding="utf-8")
    with pytest.raises(AssertionError, match="`comment`"):
        check_table(drifted)
