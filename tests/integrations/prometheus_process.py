"""Debian's `prometheus` binary on a free loopback port, for the integration tests."""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port

PROMETHEUS = shutil.which("prometheus")
SKIP_REASON = "the prometheus binary is not installed (Debian package `prometheus`)"


@contextmanager
def exporter_server(page: Callable[[str], bytes | None]) -> Iterator[str]:
    """A tiny exporter on a free loopback port for Prometheus to scrape: `page(path)` gives
    the text for a path, None for a 404. Yields `host:port`."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = page(self.path)
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def running_prometheus(
    folder: Path,
    config: str,
    ready: Callable[[str], bool],
    *,
    waiting_for: str,
    extra_args: tuple[str, ...] = (),
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
                *extra_args,
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
                except (httpx.HTTPError, ValueError, KeyError):
                    pass  # not up yet, or still starting (503 "Service Unavailable")
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
