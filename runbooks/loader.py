"""Load runbook YAML and explain what is wrong with it, by file and line.

YAML is composed into nodes first (each node knows its line), then constructed and validated;
a pydantic error location such as `steps.2.exec.argv.1` is walked down the node tree to the
line a person has to fix.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from runbooks.schema import Location, Runbook, reference_problems

SUFFIXES = (".yaml", ".yml")
MAX_FILE_BYTES = 256 * 1024


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one file, printable as `file:line: where: message`."""

    source: str
    line: int | None
    where: str
    message: str

    def __str__(self) -> str:
        position = f"{self.source}:{self.line}" if self.line else self.source
        return (
            f"{position}: {self.where}: {self.message}"
            if self.where
            else f"{position}: {self.message}"
        )


class RunbookInvalid(ValueError):
    def __init__(self, problems: Sequence[Problem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = list(problems)


@dataclass
class LoadResult:
    """Runbooks by name, where each came from, and every file that was refused and why."""

    runbooks: dict[str, Runbook] = field(default_factory=dict)
    sources: dict[str, Path] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)


Check = Callable[[Runbook], list[tuple[Location, str]]]


def parse_runbook(text: str, source: str, check: Check | None = None) -> Runbook:
    """One runbook from YAML text; raises RunbookInvalid with every problem found. `check`
    adds problems of the caller's own (located like the schema's, so they get a line)."""
    try:
        # The reader checks the characters as it is built (a NUL is refused there).
        loader = yaml.SafeLoader(text)
    except yaml.YAMLError as error:
        raise RunbookInvalid([Problem(source, None, "", f"YAML: {error}")]) from None
    try:
        node = loader.get_single_node()
        if node is None:
            raise RunbookInvalid([Problem(source, 1, "", "the file is empty")])
        problems = _duplicate_keys(node, source)
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark else None
        raise RunbookInvalid([Problem(source, line, "", f"YAML: {error.problem}")]) from None
    except yaml.YAMLError as error:
        raise RunbookInvalid([Problem(source, None, "", f"YAML: {error}")]) from None
    except RunbookInvalid:
        raise
    except ValueError as error:
        # A value YAML cannot construct, such as the date 2001-13-14.
        raise RunbookInvalid([Problem(source, None, "", f"YAML: {error}")]) from None
    except RecursionError:
        raise RunbookInvalid([Problem(source, None, "", "YAML: nested too deeply")]) from None
    finally:
        loader.dispose()
    if problems:
        raise RunbookInvalid(problems)
    if not isinstance(data, dict):
        raise RunbookInvalid([Problem(source, 1, "", "a runbook is a YAML mapping")])
    try:
        runbook = Runbook.model_validate(data)
    except ValidationError as error:
        raise RunbookInvalid(
            [_problem(source, node, _location(e), e["msg"]) for e in error.errors()]
        ) from None
    located = reference_problems(runbook) + (check(runbook) if check else [])
    found = [_problem(source, node, loc, message) for loc, message in located]
    if found:
        raise RunbookInvalid(found)
    return runbook


def load_file(path: Path, check: Check | None = None) -> Runbook:
    if path.stat().st_size > MAX_FILE_BYTES:
        raise RunbookInvalid([Problem(str(path), None, "", f"larger than {MAX_FILE_BYTES} bytes")])
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise RunbookInvalid([Problem(str(path), None, "", "not UTF-8 text")]) from None
    return parse_runbook(text, str(path), check)


def runbook_files(directory: Path) -> list[Path]:
    """YAML files under `directory`, skipping hidden folders such as `.git` and `.github`, and
    links that lead outside it (a runbook repository must not make Lookout read /etc)."""
    root = directory.resolve()
    return sorted(
        path
        for path in directory.rglob("*")
        if path.suffix in SUFFIXES
        and path.is_file()
        and path.resolve().is_relative_to(root)
        and not any(part.startswith(".") for part in path.relative_to(directory).parts)
    )


def load_files(
    paths: Iterable[Path], label: Path | None = None, check: Check | None = None
) -> LoadResult:
    """Load every file; a bad file or a name used twice is a problem, never an exception."""
    result = LoadResult()
    for path in paths:
        shown = str(path.relative_to(label)) if label else str(path)
        try:
            runbook = load_file(path, check)
        except RunbookInvalid as error:
            result.problems.extend(
                Problem(shown, p.line, p.where, p.message) for p in error.problems
            )
            continue
        if runbook.name in result.runbooks:
            first = result.sources[runbook.name]
            message = f"runbook name {runbook.name!r} is already used by {first.name}"
            result.problems.append(Problem(shown, None, "name", message))
            continue
        result.runbooks[runbook.name] = runbook
        result.sources[runbook.name] = path
    return result


def load_directory(directory: Path, check: Check | None = None) -> LoadResult:
    return load_files(runbook_files(directory), label=directory, check=check)


def library_directory() -> Path:
    """The runbooks shipped inside the package."""
    return Path(str(resources.files("runbooks").joinpath("library")))


def load_library() -> LoadResult:
    return load_directory(library_directory())


def _location(error: ErrorDetails) -> Location:
    location = tuple(error["loc"])
    # A wrong `kind:` is reported at the step; the line to fix is the `kind:` line.
    if error["type"] in ("union_tag_invalid", "union_tag_not_found"):
        return (*location, "kind")
    return location


def _problem(source: str, root: yaml.Node, location: Location, message: str) -> Problem:
    where = ".".join(str(part) for part in location)
    return Problem(source, _line_of(root, location), where, message.removeprefix("Value error, "))


def _line_of(root: yaml.Node, location: Location) -> int:
    """The line of the deepest node `location` reaches; parts that are not keys or indexes
    (pydantic adds the union member's tag, e.g. `exec`) are skipped."""
    node = root
    for part in location:
        child = _child(node, part)
        if child is not None:
            node = child
    return node.start_mark.line + 1


def _child(node: yaml.Node, part: str | int) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and key.value == str(part):
                return value  # type: ignore[no-any-return]
    if isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
        return node.value[part]  # type: ignore[no-any-return]
    return None


def _duplicate_keys(node: yaml.Node, source: str) -> list[Problem]:
    """PyYAML keeps the last of two equal keys silently; a runbook that says `argv:` twice is
    ambiguous, so it is refused. So are aliases."""
    problems: list[Problem] = []
    stack: list[Any] = [node]
    visited: set[int] = set()
    while stack:
        current = stack.pop()
        if id(current) in visited:
            # An alias: the same node reached twice. Aliases let a small file expand into an
            # enormous document, and a runbook never needs one.
            line = current.start_mark.line + 1
            return [Problem(source, line, "", "YAML anchors and aliases are not allowed")]
        visited.add(id(current))
        if isinstance(current, yaml.MappingNode):
            seen: set[str] = set()
            for key, value in current.value:
                if isinstance(key, yaml.ScalarNode):
                    if key.value in seen:
                        line = key.start_mark.line + 1
                        problems.append(Problem(source, line, key.value, "duplicate key"))
                    seen.add(key.value)
                stack.append(value)
        elif isinstance(current, yaml.SequenceNode):
            stack.extend(current.value)
    return sorted(problems, key=lambda p: p.line or 0)
