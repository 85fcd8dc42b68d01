"""Helpers for runbook tests: a runbook from inline YAML, an executor over real programs."""

from __future__ import annotations

import os
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path

from runbooks.config import ExecutionConfig
from runbooks.executor import Executor
from runbooks.loader import parse_runbook
from runbooks.plan import Plan
from runbooks.schema import Runbook

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
PYTHON = sys.executable
# Real programs only; no shell is ever on the list.
PROGRAMS = ["/bin/echo", "/usr/bin/env", "/usr/bin/false", PYTHON]


def runbook(text: str) -> Runbook:
    return parse_runbook(textwrap.dedent(text), "test.yaml")


def config(tmp_path: Path, **changes: object) -> ExecutionConfig:
    values: dict[str, object] = {
        "executables": PROGRAMS,
        "working_directory": tmp_path,
        "default_timeout_seconds": 10,
    }
    values.update(changes)
    return ExecutionConfig.model_validate(values)


def executor(tmp_path: Path, **changes: object) -> Executor:
    environ = {"PATH": os.environ["PATH"], "LANG": "C.UTF-8"}
    return Executor(config(tmp_path, **changes), environ=environ)


def plan(executor: Executor, book: Runbook, **arguments: str) -> Plan:
    return executor.plan(book, arguments, services={"checkout", "payments"}, now=NOW)


def process_gone(pid: int) -> bool:
    """True when `pid` no longer runs: it does not exist, or it is a zombie waiting for a
    parent that is not this test to reap it."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"
