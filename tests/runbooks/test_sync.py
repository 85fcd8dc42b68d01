"""Git sync against real repositories: an upstream, a clone, commits that break files."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from runbooks.loader import library_directory
from runbooks.sync import RunbookSync

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
IDENTITY = ["-c", "user.name=Test", "-c", "user.email=test@example.invalid"]


def git(directory: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(directory), *IDENTITY, *args],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


def commit(directory: Path, message: str) -> str:
    git(directory, "add", "--all")
    git(directory, "commit", "--quiet", "-m", message)
    return git(directory, "rev-parse", "HEAD")


@pytest.fixture
def upstream(tmp_path: Path) -> Path:
    folder = tmp_path / "upstream"
    folder.mkdir()
    git(folder, "init", "--quiet", "--initial-branch=main")
    for name in ("check-tls-certificate", "clear-old-logs"):
        shutil.copy(library_directory() / f"{name}.yaml", folder / f"{name}.yaml")
    commit(folder, "two runbooks")
    return folder


@pytest.fixture
def checkout(tmp_path: Path, upstream: Path) -> Path:
    folder = tmp_path / "checkout"
    subprocess.run(
        ["git", "clone", "--quiet", str(upstream), str(folder)], check=True, capture_output=True
    )
    return folder


def syncer(checkout: Path) -> RunbookSync:
    return RunbookSync(checkout, environ=dict(os.environ))


async def test_a_bad_commit_is_rejected_and_the_last_good_version_kept(
    upstream: Path, checkout: Path
) -> None:
    sync = syncer(checkout)
    first = await sync.sync()
    first_commit = git(upstream, "rev-parse", "HEAD")
    assert first.version == first_commit
    assert sorted(first.loaded) == ["check-tls-certificate", "clear-old-logs"]
    assert first.rejected == () and first.error is None and first.changed

    # Upstream: a new good runbook, a new broken file, and a good file broken.
    shutil.copy(library_directory() / "flush-redis-cache.yaml", upstream / "flush.yaml")
    (upstream / "bad.yaml").write_text("name: bad\ntitle: Bad\nrisk: low\nsteps: []\n")
    tls = upstream / "check-tls-certificate.yaml"
    tls.write_text(tls.read_text().replace("risk: low", "risk: whatever"))
    second_commit = commit(upstream, "break things")

    second = await sync.sync()

    assert second.version == second_commit
    assert sorted(second.loaded) == ["clear-old-logs", "flush-redis-cache"]
    assert second.kept == ("check-tls-certificate",)
    rejected = {(p.source, p.line, p.where) for p in second.rejected}
    assert rejected == {("bad.yaml", 4, "steps"), ("check-tls-certificate.yaml", 11, "risk")}
    assert any("at least 1 item" in p.message for p in second.rejected)
    runbooks = sync.runbooks
    assert sorted(runbooks) == ["check-tls-certificate", "clear-old-logs", "flush-redis-cache"]
    assert runbooks["check-tls-certificate"].version == first_commit
    assert runbooks["check-tls-certificate"].runbook.risk == "low"
    assert runbooks["flush-redis-cache"].version == second_commit
    assert runbooks["clear-old-logs"].version == first_commit  # unchanged content
    assert "rejected: bad.yaml, check-tls-certificate.yaml" in second.summary()

    # Fixed upstream: the new version replaces the kept one.
    tls.write_text(tls.read_text().replace("risk: whatever", "risk: medium"))
    (upstream / "bad.yaml").unlink()
    third_commit = commit(upstream, "fix")
    third = await sync.sync()
    assert third.rejected == () and third.kept == ()
    assert sync.runbooks["check-tls-certificate"].version == third_commit
    assert sync.runbooks["check-tls-certificate"].runbook.risk == "medium"


async def test_a_failed_pull_keeps_what_is_there(
    tmp_path: Path, upstream: Path, checkout: Path
) -> None:
    sync = syncer(checkout)
    await sync.sync()
    shutil.rmtree(upstream)

    report = await sync.sync()

    assert report.error is not None and report.error.startswith("git pull exited")
    assert sorted(sync.runbooks) == ["check-tls-certificate", "clear-old-logs"]
    assert not report.changed


async def test_a_removed_file_removes_its_runbook(upstream: Path, checkout: Path) -> None:
    sync = syncer(checkout)
    await sync.sync()
    (upstream / "clear-old-logs.yaml").unlink()
    commit(upstream, "remove")

    report = await sync.sync()

    assert report.removed == ("clear-old-logs",)
    assert sorted(sync.runbooks) == ["check-tls-certificate"]


async def test_a_plain_folder_is_versioned_by_its_content(tmp_path: Path) -> None:
    shutil.copy(library_directory() / "clear-old-logs.yaml", tmp_path / "logs.yaml")
    sync = RunbookSync(tmp_path, environ={})
    first = await sync.sync()
    assert first.version is not None and first.version.startswith("dir-")
    assert (await sync.sync()).version == first.version
    assert not (await sync.sync()).changed
