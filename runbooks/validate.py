"""`lookout runbooks validate PATH`: the check a runbook repository runs in its own CI."""

from __future__ import annotations

from pathlib import Path

from runbooks.loader import Problem, RunbookInvalid, load_directory, load_file

EXIT_OK = 0
EXIT_INVALID = 1
EXIT_USAGE = 2


def validate_path(path: Path) -> list[Problem]:
    """Every problem in a runbook file, or in every runbook file under a directory."""
    if path.is_dir():
        return load_directory(path).problems
    try:
        load_file(path)
    except RunbookInvalid as invalid:
        return invalid.problems
    return []


def validate_command(path: Path) -> tuple[int, str]:
    """Exit code and text to print: one `file:line: where: message` line per problem."""
    if not path.exists():
        return EXIT_USAGE, f"{path}: no such file or directory"
    if path.is_dir():
        result = load_directory(path)
        problems, count = result.problems, len(result.runbooks)
        if not problems and not count:
            return EXIT_INVALID, f"{path}: no runbook files (*.yaml, *.yml)"
    else:
        problems, count = validate_path(path), 1
    if problems:
        files = len({p.source for p in problems})
        lines = [str(p) for p in problems]
        lines.append(f"{len(problems)} problem(s) in {files} file(s)")
        return EXIT_INVALID, "\n".join(lines)
    return EXIT_OK, f"{count} runbook(s) valid"
