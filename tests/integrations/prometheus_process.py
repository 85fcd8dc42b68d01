"""Debian's `prometheus` binary on a free loopback port, for the integration tests."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port

PROMETHEUS = shutil.which("prometheus")
SKIP_REASON = "the prometheus binary is not installed (Debian package `prometheus`)"


@contextmanager
def running_prometheus(
    folder: Path, config: str, ready: Callable[[str], bool], *, waiting_for: str
) -> Iterator[str]:
    """Start Prometheus with `config` (prometheus.yml text, files beside it in `folder`);
    yield its URL once `ready(url)` holds; stop it afterwards."""
    assert PROMETHEUS is not None, SKIP_REASON
    (folder / "prometheus.yml").write_text(config)
    port = free_port()
    log_path = folder / "prometheus.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                PROMETHEUS,
                f"--config.file={folder / 'prometheus.yml'}",
                f"--storage.tsdb.path={folder / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    if ready(url):
                        break
                except httpx.HTTPError:
                    pass
                if process.poll() is not None or time.monotonic() > deadline:
                    log.flush()
                    tail = log_path.read_text()[-2000:]
                    pytest.fail(f"prometheus did not {waiting_for}:\n{tail}")
                time.sleep(0.2)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
