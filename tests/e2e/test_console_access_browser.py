"""The console page in a real browser behind a proxy (the signed-in user replaces the picker)
and with LOOKOUT_CONSOLE_AUTH=none (the warning shows)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.test_console_browser import (
    Console,
    _free_port,
    _stop,
    _wait_healthy,
    console,
    pytestmark,
    sync_api,
)

__all__ = ["console", "pytestmark"]  # the fixture, used by name; the same skips


def serving(tmp_path: Path, auth: str) -> Iterator[str]:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOOKOUT_")}
    env.update(LOOKOUT_DATA_DIR=str(tmp_path / "data"), LOOKOUT_CONSOLE_AUTH=auth)
    log_path = tmp_path / "server.log"
    command = [sys.executable, "-m", "bot", "serve", "--port", str(port)]
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_healthy(f"http://127.0.0.1:{port}", process, log_path)
        yield f"http://127.0.0.1:{port}"
    finally:
        _stop(process)


@pytest.fixture
def proxied(tmp_path: Path) -> Iterator[str]:
    yield from serving(tmp_path, "proxy")


@pytest.fixture
def open_console(tmp_path: Path) -> Iterator[str]:
    yield from serving(tmp_path, "none")


def test_behind_a_proxy_the_page_shows_who_signed_in(proxied: str, console: Console) -> None:
    expect = sync_api.expect
    page = console.page
    page.set_extra_http_headers({"X-Forwarded-User": "ann"})
    page.goto(f"{proxied}/")
    page.wait_for_selector('body[data-stream="open"]')
    expect(page.locator("#signed-in-user")).to_have_text("ann")
    expect(page.locator("#user-input")).to_be_hidden()
    page.fill("#command-input", "/lookout incidents")
    page.press("#command-input", "Enter")
    mine = page.locator("#message-list .message", has_text="/lookout incidents")
    expect(mine).to_contain_text("ann")
    expect(page.locator("#auth-warning")).to_be_hidden()
    assert console.js_errors == []


def test_with_auth_none_the_page_warns(open_console: str, console: Console) -> None:
    expect = sync_api.expect
    page = console.page
    page.goto(f"{open_console}/")
    page.wait_for_selector('body[data-stream="open"]')
    expect(page.locator("#auth-warning")).to_contain_text("LOOKOUT_CONSOLE_AUTH=none")
    expect(page.locator("#user-input")).to_be_visible()
    assert console.js_errors == []
