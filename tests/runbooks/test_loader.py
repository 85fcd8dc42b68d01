"""Loading and validating runbook YAML: the shipped library, and line-level errors."""

from __future__ import annotations

import os
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest

from runbooks.actions import HttpAction
from runbooks.config import Executables, ExecutionConfig
from runbooks.executor import Executor
from runbooks.fit import AlertFacts, fit
from runbooks.loader import library_directory, load_library, runbook_files
from runbooks.plan import PlanError, build_plan
from runbooks.validate import validate_command, validate_path

LIBRARY_ARGUMENTS = {
    "restart-systemd-service": {"host": "web-1", "unit": "nginx.service", "instance": "web-1:9100"},
    "rollback-kubernetes-deployment": {"namespace": "shop", "service": "checkout"},
    "restart-kubernetes-deployment": {"namespace": "shop", "deployment": "checkout"},
    "scale-kubernetes-deployment": {"namespace": "shop", "deployment": "api", "replicas": "4"},
    "clear-old-logs": {"directory": "/var/log/nginx"},
    "failover-postgresql-replica": {"cluster": "main", "candidate": "pg-2"},
    "flush-redis-cache": {"host": "cache-1"},
    "silence-alertmanager-alert": {
        "alertname": "HostDown",
        "instance": "web-1:9100",
        "reason": "kernel upgrade (CHG-42)",
    },
    "check-tls-certificate": {"host": "shop.example.com"},
}


def test_every_library_runbook_validates() -> None:
    result = load_library()
    assert result.problems == []
    assert len(result.runbooks) >= 8
    assert set(result.runbooks) == set(LIBRARY_ARGUMENTS)
    assert validate_command(library_directory()) == (0, f"{len(result.runbooks)} runbook(s) valid")


def test_every_library_runbook_plans_with_a_matching_configuration() -> None:
    programs = ["systemctl", "kubectl", "df", "find", "patronictl", "redis-cli", "openssl"]
    settings = ExecutionConfig(
        executables=[f"/usr/bin/{name}" for name in programs],
        http_hosts=["alertmanager:9093"],
        variables={"alertmanager_url": "http://alertmanager:9093"},
    )
    # The programs need not be installed on this machine to be planned.
    executables = Executables({name: f"/usr/bin/{name}" for name in programs})
    now = datetime(2026, 3, 1, tzinfo=UTC)
    plans = {
        name: build_plan(
            book,
            LIBRARY_ARGUMENTS[name],
            config=settings,
            executables=executables,
            services={"checkout"},
            now=now,
        )
        for name, book in load_library().runbooks.items()
    }
    assert all(plan.steps for plan in plans.values())
    silence = plans["silence-alertmanager-alert"].steps[0].action
    assert isinstance(silence, HttpAction)
    assert silence.url == "http://alertmanager:9093/api/v2/silences"
    body = silence.json_body
    assert (body["startsAt"], body["endsAt"]) == ("2026-03-01T00:00:00Z", "2026-03-01T02:00:00Z")
    assert body["comment"] == "kernel upgrade (CHG-42)"
    [shown, _] = plans["silence-alertmanager-alert"].describe(str)
    assert shown.startswith(
        "1. Create the silence: POST http://alertmanager:9093/api/v2/silences "
        '{"matchers":[{"name":"alertname","value":"HostDown",'
    )


def test_high_risk_library_runbooks_need_a_second_person() -> None:
    books = load_library().runbooks
    assert {n for n, b in books.items() if b.risk == "high"} == {
        "rollback-kubernetes-deployment",
        "failover-postgresql-replica",
    }
    assert all(b.approval == "two" for b in books.values() if b.risk == "high")


BROKEN = """\
name: broken
title: Broken
risk: extreme
parameters:
  - {name: target, type: string}
steps:
  - name: fine
    kind: exec
    argv: [/bin/echo, "{{target}}"]
  - name: no argv
    kind: exec
  - name: unknown placeholder
    kind: exec
    argv: [/bin/echo, "{{nowhere}}"]
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text))
    return path


def test_the_validator_reports_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "broken.yaml", BROKEN)

    code, text = validate_command(path)

    assert code == 1
    lines = text.splitlines()
    assert f"{path}:3: risk: Input should be 'low', 'medium' or 'high'" in lines
    assert f"{path}:10: steps.1.exec.argv: Field required" in lines
    assert lines[-1] == "2 problem(s) in 1 file(s)"


def test_references_are_checked_once_the_structure_is_valid(tmp_path: Path) -> None:
    text = BROKEN.replace("risk: extreme", "risk: low").replace(
        "  - name: no argv\n    kind: exec\n", ""
    )
    path = write(tmp_path, "refs.yaml", text)

    [problem] = validate_path(path)

    assert (problem.line, problem.where) == (12, "steps.1.argv.1")
    assert problem.message == "{{nowhere}} is not a declared parameter"


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("name: x\ntitle: [unclosed\n", 3, "YAML"),
        ("name: dup\nname: dup\n", 2, "duplicate key"),
        ("a: &anchor {b: 1}\nc: *anchor\n", 1, "anchors and aliases"),
        ("- just\n- a list\n", 1, "a runbook is a YAML mapping"),
        ("", 1, "the file is empty"),
    ],
)
def test_malformed_files_are_explained(tmp_path: Path, text: str, line: int, message: str) -> None:
    path = write(tmp_path, "bad.yaml", text)
    [problem] = validate_path(path)
    assert problem.line == line
    assert message in problem.message


def test_policy_may_not_ask_for_less_approval_than_the_risk_needs(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "weak.yaml",
        """\
        name: weak
        title: Weak
        risk: high
        policy:
          approval: one
        steps: [{name: a, kind: wait, seconds: 1}]
        """,
    )
    [problem] = validate_path(path)
    assert problem.line == 1
    assert "high risk needs approval of at least 2 people" in problem.message


def test_viewer_is_not_an_allowed_role(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "viewer.yaml",
        """\
        name: viewer
        title: Viewer
        risk: low
        policy: {allowed_roles: [viewer]}
        steps: [{name: a, kind: wait, seconds: 1}]
        """,
    )
    [problem] = validate_path(path)
    assert (problem.line, problem.where) == (4, "policy.allowed_roles.0")


def test_a_directory_reports_every_bad_file_and_duplicate_names(tmp_path: Path) -> None:
    good = (library_directory() / "check-tls-certificate.yaml").read_text()
    write(tmp_path, "a.yaml", good)
    write(tmp_path, "b.yml", good)
    write(tmp_path, "c.yaml", "name: [")
    (tmp_path / ".github").mkdir()
    write(tmp_path / ".github", "ci.yaml", "not: a runbook")
    os.symlink("/etc/hostname", tmp_path / "outside.yaml")

    code, text = validate_command(tmp_path)

    assert code == 1
    assert "b.yml: name: runbook name 'check-tls-certificate' is already used by a.yaml" in text
    assert "c.yaml:1: YAML:" in text
    assert ".github" not in text
    assert [p.name for p in runbook_files(tmp_path)] == ["a.yaml", "b.yml", "c.yaml"]


def test_validate_command_on_missing_and_empty_paths(tmp_path: Path) -> None:
    assert validate_command(tmp_path / "nope")[0] == 2
    assert validate_command(tmp_path) == (1, f"{tmp_path}: no runbook files (*.yaml, *.yml)")


def test_an_unknown_step_kind_points_at_the_step(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "kind.yaml",
        """\
        name: kinds
        title: Kinds
        risk: low
        steps:
          - name: a
            kind: shell
            command: rm -rf /
        """,
    )
    [problem] = validate_path(path)
    assert problem.line == 6
    assert problem.where == "steps.0.kind"
    assert "'exec', 'http', 'promql', 'wait', 'manual'" in problem.message


def test_plan_errors_list_every_problem() -> None:
    book = load_library().runbooks["scale-kubernetes-deployment"]
    runner = Executor(ExecutionConfig(), environ={})
    with pytest.raises(PlanError) as error:
        runner.plan(book, {"namespace": "Bad_NS"}, services=None, now=datetime.now(UTC))
    assert error.value.problems == [
        "namespace: 'Bad_NS' does not match '[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?'",
        "deployment is required",
        "replicas is required",
    ]


def test_triggers_suggest_runbooks_for_an_alert() -> None:
    books = load_library().runbooks
    disk = AlertFacts("NodeFilesystemAlmostOutOfSpace", {"severity": "critical"})
    suggested = sorted(name for name, book in books.items() if fit(book, [disk]))
    assert suggested == ["clear-old-logs"]
    assert not fit(books["clear-old-logs"], [AlertFacts("HostDown", {})])
