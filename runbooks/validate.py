"""`lookout runbooks validate PATH`: the check a runbook repository runs in its own CI.

Besides the format (see `schema`), validation refuses what can never run: a step whose program
is a shell is refused by the format itself, and — given an installation's allowlist
(`runbooks.execution.executables` of its LOOKOUT_CONFIG) — a program not on it. The allowlist
is compared as written, without looking for the programs on this machine (CI rarely has
kubectl): a step's program is allowed when it is an entry, or a bare name that is the last part
of one (`kubectl` for `/usr/local/bin/kubectl`).
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path, PurePath

from runbooks.loader import Check, Problem, RunbookInvalid, load_directory, load_file
from runbooks.schema import ExecStep, Location, Runbook

EXIT_OK = 0
EXIT_INVALID = 1
EXIT_USAGE = 2


def allowlist_check(executables: Collection[str]) -> Check:
    """A loader check: every exec step's program is on `executables`."""
    entries = set(executables)
    names = {PurePath(entry).name for entry in entries}

    def check(runbook: Runbook) -> list[tuple[Location, str]]:
        problems: list[tuple[Location, str]] = []
        for section in ("steps", "rollback"):
            for index, step in enumerate(getattr(runbook, section)):
                if not isinstance(step, ExecStep):
                    continue
                program = step.argv[0]
                bare = "/" not in program
                if program in entries or (bare and program in names):
                    continue
                problems.append(
                    (
                        (section, index, "argv", 0),
                        f"{program!r} is not on the allowlist (runbooks.execution.executables), "
                        "so this step can never run",
                    )
                )
        return problems

    return check


def validate_path(path: Path, executables: Collection[str] | None = None) -> list[Problem]:
    """Every problem in a runbook file, or in every runbook file under a directory;
    `executables`, when given, is the allowlist every program must be on."""
    check = allowlist_check(executables) if executables is not None else None
    if path.is_dir():
        return load_directory(path, check).problems
    try:
        load_file(path, check)
    except RunbookInvalid as invalid:
        return invalid.problems
    return []


def validate_command(path: Path, executables: Collection[str] | None = None) -> tuple[int, str]:
    """Exit code and text to print: one `file:line: where: message` line per problem."""
    if not path.exists():
        return EXIT_USAGE, f"{path}: no such file or directory"
    check = allowlist_check(executables) if executables is not None else None
    if path.is_dir():
        result = load_directory(path, check)
        problems, count = result.problems, len(result.runbooks)
        if not problems and not count:
            return EXIT_INVALID, f"{path}: no runbook files (*.yaml, *.yml)"
    else:
        problems, count = validate_path(path, executables), 1
    if problems:
        files = len({p.source for p in problems})
        lines = [str(p) for p in problems]
        lines.append(f"{len(problems)} problem(s) in {files} file(s)")
        return EXIT_INVALID, "\n".join(lines)
    against = f" against an allowlist of {len(executables)}" if executables is not None else ""
    return EXIT_OK, f"{count} runbook(s) valid{against}"
