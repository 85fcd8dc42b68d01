"""The `lookout` command, run as a user would run it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from storage.database import Database
from tests.conftest import REPO, free_port

# SQLite pass only: about the command line, not the store.
pytestmark = pytest.mark.sqlite


def lookout(
    *args: str, env: dict[str, str], timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_version() -> None:
    result = lookout("version", env={})
    assert result.returncode == 0 and result.stdout.strip() == "lookout 0.1.0"


@pytest.mark.sqlite
def test_db_upgrade_creates_the_sqlite_file(tmp_path: Path) -> None:
    result = lookout("db", "upgrade", env={"LOOKOUT_DATA_DIR": str(tmp_path / "var")})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"database at revision {Database.head_revision()}"
    assert (tmp_path / "var" / "lookout.db").is_file()


def test_a_broken_config_file_is_one_clear_line(tmp_path: Path) -> None:
    config = tmp_path / "lookout.yaml"
    config.write_text("access:\n  default_role: overlord\n")
    env = {"LOOKOUT_DATA_DIR": str(tmp_path), "LOOKOUT_CONFIG": str(config)}
    result = lookout("serve", "--port", str(free_port()), env=env)
    assert result.returncode == 2
    assert "is not a valid Lookout config" in result.stderr
    assert "unknown role 'overlord'" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.fixture
def demo_server(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    env = {**os.environ, "LOOKOUT_DATA_DIR": str(tmp_path)}
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "serve", "--demo", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            raise AssertionError("lookout serve --demo did not come up")
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            _, stderr = process.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            raise
        # uvicorn re-raises SIGTERM after a graceful shutdown, as a server should.
        assert process.returncode in (0, -signal.SIGTERM), stderr
        assert "Application shutdown complete." in stderr
        assert '"level": "error"' not in stderr, stderr


def test_serve_demo_shows_incidents_within_seconds(demo_server: str) -> None:
    deadline = time.monotonic() + 20
    incidents: list[dict[str, object]] = []
    while time.monotonic() < deadline:
        incidents = httpx.get(f"{demo_server}/console/api/incidents", timeout=5).json()
        messages = httpx.get(
            f"{demo_server}/console/api/messages", params={"channel": "#incidents"}, timeout=5
        ).json()
        # The database outage and its symptoms are one incident, naming its cause.
        if len(incidents) >= 3 and "Probable root cause: postgres-primary" in str(messages):
            break
        time.sleep(0.5)
    else:
        raise AssertionError(f"the demo storm did not arrive: {incidents}")
    history = httpx.get(
        f"{demo_server}/console/api/incidents", params={"status": "resolved"}, timeout=5
    ).json()
    assert len(history) >= 3  # seeded past incidents
    assert (
        httpx.get(f"{demo_server}/", timeout=5).text.lstrip().lower().startswith("<!doctype html")
    )


def test_lookout_demo_sends_the_storm_to_a_running_server(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "LOOKOUT_DATA_DIR": str(tmp_path), "LOOKOUT_PORT": str(port)}
    server = subprocess.Popen(
        [sys.executable, "-m", "bot", "serve"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        result = subprocess.run(
            [sys.executable, "-m", "bot", "demo", "--speed", "20"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        incidents = httpx.get(f"http://127.0.0.1:{port}/console/api/incidents", timeout=5).json()
        assert len(incidents) == 5
    finally:
        server.terminate()
        server.wait(timeout=15)


def test_runbooks_validate_reports_lines_and_exits_non_zero(tmp_path: Path) -> None:
    good = lookout("runbooks", "validate", str(REPO / "runbooks" / "library"), env={})
    assert good.returncode == 0 and good.stdout.strip() == "9 runbook(s) valid"
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: Bad Name\ntitle: x\nrisk: low\nsteps: []\n")
    result = lookout("runbooks", "validate", str(bad), env={})
    assert result.returncode == 1
    assert f"{bad}:1: name: String should match pattern" in result.stderr
    assert f"{bad}:4: steps: List should have at least 1 item" in result.stderr


def test_runbooks_validate_checks_programs_against_the_configured_allowlist(
    tmp_path: Path,
) -> None:
    config = tmp_path / "lookout.yaml"
    config.write_text("runbooks:\n  execution:\n    executables: [kubectl, /usr/bin/df, find]\n")
    library = str(REPO / "runbooks" / "library")
    by_option = lookout("runbooks", "validate", library, "--config", str(config), env={})
    by_env = lookout("runbooks", "validate", library, env={"LOOKOUT_CONFIG": str(config)})
    for result in (by_option, by_env):
        assert result.returncode == 1
        refused = {
            line.split(": ", 2)[2].split(" is not", 1)[0]
            for line in result.stderr.splitlines()[:-1]
        }
        assert refused == {"'openssl'", "'patronictl'", "'redis-cli'", "'systemctl'"}
        assert "restart-kubernetes-deployment.yaml" not in result.stderr
