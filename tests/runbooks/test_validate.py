"""`lookout runbooks validate` refuses what can never run: a shell as a step's program, and,
given an installation's allowlist, a program not on it — each with its file and line."""

from __future__ import annotations

import textwrap
from pathlib import Path

from runbooks.loader import library_directory, load_library
from runbooks.validate import EXIT_INVALID, EXIT_OK, validate_command, validate_path

RUNBOOK = """\
name: restart-web
title: Restart the web tier
risk: medium
steps:
  - name: Restart
    kind: exec
    argv: [systemctl, restart, web.service]
  - name: Check
    kind: exec
    argv: [/usr/local/bin/healthcheck, web]
rollback:
  - name: Start
    kind: exec
    argv: [systemctl, start, web.service]
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def test_a_shell_step_is_refused_with_its_line(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "shell.yaml",
        """\
        name: via-shell
        title: Through a shell
        risk: low
        steps:
          - name: Pipe
            kind: exec
            argv: [/bin/bash, -c, "ps aux | grep web"]
        """,
    )
    [problem] = validate_path(path)
    assert (problem.line, problem.where) == (7, "steps.0.exec.argv")
    assert problem.message.startswith("'/bin/bash' is a shell")


def test_a_program_off_the_allowlist_is_refused_line_by_line(tmp_path: Path) -> None:
    path = write(tmp_path, "restart.yaml", RUNBOOK)
    assert validate_path(path) == []  # without an allowlist, only the format is checked
    problems = validate_path(path, ["/usr/bin/systemctl"])
    assert [(p.line, p.where) for p in problems] == [(10, "steps.1.argv.0")]
    assert problems[0].message == (
        "'/usr/local/bin/healthcheck' is not on the allowlist (runbooks.execution.executables), "
        "so this step can never run"
    )
    assert validate_path(path, ["systemctl", "/usr/local/bin/healthcheck"]) == []
    code, text = validate_command(tmp_path, ["kubectl"])
    assert code == EXIT_INVALID
    assert text.splitlines() == [
        "restart.yaml:7: steps.0.argv.0: 'systemctl' is not on the allowlist "
        "(runbooks.execution.executables), so this step can never run",
        "restart.yaml:10: steps.1.argv.0: '/usr/local/bin/healthcheck' is not on the allowlist "
        "(runbooks.execution.executables), so this step can never run",
        "restart.yaml:14: rollback.0.argv.0: 'systemctl' is not on the allowlist "
        "(runbooks.execution.executables), so this step can never run",
        "3 problem(s) in 1 file(s)",
    ]


def test_the_library_against_an_allowlist_of_its_programs() -> None:
    programs = sorted({p for book in load_library().runbooks.values() for p in book.programs()})
    assert programs == ["df", "find", "kubectl", "openssl", "patronictl", "redis-cli", "systemctl"]
    code, text = validate_command(library_directory(), [f"/usr/bin/{p}" for p in programs])
    assert (code, text) == (EXIT_OK, "9 runbook(s) valid against an allowlist of 7")


def test_read_only_is_checked_where_it_could_not_hold(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "silence.yaml",
        """\
        name: post-silence
        title: Post a silence
        risk: low
        steps:
          - name: Look
            kind: http
            url: https://alertmanager.example/-/healthy
            read_only: true
          - name: Silence
            kind: http
            method: POST
            url: https://alertmanager.example/api/v2/silences
            read_only: true
        """,
    )
    [problem] = validate_path(path)
    assert problem.where.startswith("steps.1")
    assert "a POST request changes something: only GET and HEAD steps may be read_only" in (
        problem.message
    )
    code, _ = validate_command(library_directory())
    assert code == EXIT_OK  # the shipped library marks its read-only steps validly
