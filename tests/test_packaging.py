"""What is shipped works outside the checkout: the wheel, installed on its own, serves and
validates its runbook library (what `docker build` would exercise, without a Docker engine)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import REPO, free_port

# The wheel, not the store: the installed command runs on SQLite, in the SQLite pass only.
pytestmark = pytest.mark.sqlite

PACKAGES = ("bot", "skills", "core", "knowledge", "integrations", "runbooks", "storage")


def _run(args: list[str], *, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, f"{args}: {result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, str]]]:
    """The wheel built from a copy of the sources (the checkout stays clean), installed with
    `pip --target` and no dependencies; yields the install folder and an environment in which
    only it (not the checkout) provides Lookout's packages."""
    root = tmp_path_factory.mktemp("wheel")
    source = root / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for package in PACKAGES:
        shutil.copytree(REPO / package, source / package, ignore=ignore)
    dist, target, elsewhere = root / "dist", root / "site", root / "elsewhere"
    elsewhere.mkdir()
    env = {key: value for key, value in os.environ.items() if not key.startswith("LOOKOUT_")}
    env["PIP_NO_INDEX"] = "1"  # nothing is fetched: the build and the install are offline
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--quiet"]
    _run(
        [*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(dist), str(source)],
        cwd=root,
        env=env,
    )
    wheels = list(dist.glob("lookout-*.whl"))
    assert len(wheels) == 1, wheels
    _run([*pip, "install", "--no-deps", "--target", str(target), str(wheels[0])], cwd=root, env=env)
    env |= {"PYTHONPATH": str(target), "LOOKOUT_DATA_DIR": str(root / "data")}
    yield target, env


def test_the_packages_come_from_the_wheel_not_the_checkout(
    installed: tuple[Path, dict[str, str]],
) -> None:
    target, env = installed
    code = "import bot, skills, core, knowledge, integrations, runbooks, storage\n"
    code += "print('\\n'.join(m.__file__ for m in (bot, skills, core, knowledge, integrations,"
    code += " runbooks, storage)))"
    result = _run([sys.executable, "-c", code], cwd=target.parent / "elsewhere", env=env)
    files = result.stdout.split()
    assert len(files) == len(PACKAGES)
    assert all(Path(file).is_relative_to(target) for file in files), files
    assert (target / "bot" / "console" / "static" / "index.html").is_file()
    assert list((target / "storage" / "migrations" / "versions").glob("0001_*.py"))


def test_the_installed_command_validates_the_shipped_library(
    installed: tuple[Path, dict[str, str]],
) -> None:
    target, env = installed
    library = target / "runbooks" / "library"
    result = _run(
        [str(target / "bin" / "lookout"), "runbooks", "validate", str(library)],
        cwd=target.parent / "elsewhere",
        env=env,
    )
    count = len(list(library.glob("*.yaml")))
    assert count > 0 and result.stdout.strip() == f"{count} runbook(s) valid"


def test_the_installed_command_serves_the_console_and_is_ready(
    installed: tuple[Path, dict[str, str]],
) -> None:
    target, env = installed
    port = free_port()
    server = subprocess.Popen(
        [str(target / "bin" / "lookout"), "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=target.parent / "elsewhere",
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        ready: httpx.Response | None = None
        while time.monotonic() < deadline and server.poll() is None:
            try:
                ready = httpx.get(f"{base}/readyz", timeout=2)
                if ready.status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        assert ready is not None and ready.status_code == 200, server.poll()
        page = httpx.get(f"{base}/", timeout=5)
        assert page.status_code == 200 and "<html" in page.text.lower()
        script = httpx.get(f"{base}/console/static/app.js", timeout=5)
        assert script.status_code == 200
    finally:
        server.terminate()
        _, stderr = server.communicate(timeout=20)
    assert "Traceback" not in stderr, stderr
