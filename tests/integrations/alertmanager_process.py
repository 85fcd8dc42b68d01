"""Debian's `prometheus-alertmanager` binary on a free loopback port, for integration tests."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port

ALERTMANAGER = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
SKIP_REASON = "the alertmanager binary is not installed (Debian package `prometheus-alertmanager`)"


@contextmanager
def running_alertmanager(folder: Path, config: str) -> Iterator[str]:
    """Start Alertmanager with `config` (alertmanager.yml text), no HA gossip; yield its URL
    once it is ready; stop it afterwards."""
    assert ALERTMANAGER is not None, SKIP_REASON
    (folder / "alertmanager.yml").write_text(config)
    port = free_port()
    log_path = folder / "alertmanager.log"
    url = f"http://127.0.0.1:{port}"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                ALERTMANAGER,
                f"--config.file={folder / 'alertmanager.yml'}",
                f"--storage.path={folder / 'am-data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--cluster.listen-address=",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    if httpx.get(f"{url}/-/ready", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if process.poll() is not None or time.monotonic() > deadline:
                    log.flush()
                    pytest.fail(f"alertmanager did not start:\n{log_path.read_text()[-2000:]}")
                time.sleep(0.2)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
