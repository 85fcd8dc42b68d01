"""Browser end-to-end tests of the local console.

Start the real server (``python -m bot serve``) on a free loopback port and drive the console
in headless Chromium: an Alertmanager webhook shows up live as one incident message whose
Acknowledge button updates that same message in place; and, on ``serve --demo``, the README's
runbook walkthrough click by click — suggestion, plan (with the form for what the alerts do not
say), Run this, a second person's approval (the "You are" picker), a manual confirmation,
progress, and the rollback when a step fails.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
STARTUP_TIMEOUT_S = 30.0
UI_TIMEOUT_MS = 15_000

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="the playwright package is not importable"
)

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is not installed"),
]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _log_tail(log_path: Path, limit: int = 4000) -> str:
    try:
        return log_path.read_text(errors="replace")[-limit:]
    except OSError:
        return "<no server log>"


def _wait_healthy(base_url: str, proc: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"server exited early with code {proc.returncode}:\n{_log_tail(log_path)}")
        try:
            if httpx.get(f"{base_url}/healthz", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    pytest.fail(f"server not healthy after {STARTUP_TIMEOUT_S:.0f}s:\n{_log_tail(log_path)}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    """Run ``python -m bot serve`` against an empty data dir; yield its base URL."""
    yield from _serve(tmp_path, [])


@pytest.fixture
def demo_server(tmp_path: Path) -> Iterator[str]:
    """``python -m bot serve --demo``, as `make run` starts it, on a fresh data dir."""
    yield from _serve(tmp_path, ["--demo"])


def _serve(tmp_path: Path, extra: list[str]) -> Iterator[str]:
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOOKOUT_")}
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    env["LOOKOUT_DATA_DIR"] = str(data_dir)
    log_path = tmp_path / "server.log"
    cmd = [sys.executable, "-m", "bot", "serve", "--host", "127.0.0.1", "--port", str(port), *extra]
    with log_path.open("wb") as log:
        proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_healthy(base_url, proc, log_path)
        yield base_url
    finally:
        _stop(proc)


@dataclass
class Console:
    """A Playwright page plus the uncaught JavaScript errors it raised."""

    page: Any
    js_errors: list[str] = field(default_factory=list)


@pytest.fixture
def console(tmp_path: Path) -> Iterator[Console]:
    """A fresh headless Chromium page; screenshots itself to tmp_path when the test ends."""
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
            page.set_default_timeout(UI_TIMEOUT_MS)
            result = Console(page)
            page.on("pageerror", lambda exc: result.js_errors.append(str(exc)))
            yield result
            page.screenshot(path=str(tmp_path / "console-final.png"), full_page=True)
        finally:
            browser.close()


def _alertmanager_payload(fingerprint: str) -> dict[str, Any]:
    labels = {"alertname": "HighErrorRate", "service": "checkout", "severity": "critical"}
    return {
        "version": "4",
        "groupKey": '{}:{alertname="HighErrorRate"}',
        "truncatedAlerts": 0,
        "status": "firing",
        "receiver": "lookout",
        "groupLabels": {"alertname": "HighErrorRate"},
        "commonLabels": labels,
        "commonAnnotations": {"summary": "5xx ratio above 5%"},
        "externalURL": "http://am:9093",
        "alerts": [
            {
                "status": "firing",
                "labels": labels,
                "annotations": {"summary": "5xx ratio above 5%"},
                "startsAt": datetime.now(UTC).isoformat(),
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "http://prometheus:9090/graph",
                "fingerprint": fingerprint,
            }
        ],
    }


def test_alert_shows_live_and_ack_updates_in_place(
    server: str, console: Console, tmp_path: Path
) -> None:
    expect = sync_api.expect
    page = console.page
    page.goto(f"{server}/")

    # Wait for the live stream and the initial fetch so the alert can only arrive via SSE.
    page.wait_for_selector('body[data-stream="open"]')
    page.wait_for_selector('#message-list[data-loaded="true"]')
    expect(page.locator("#channel-list .channel.active")).to_have_text("#incidents")
    incident_messages = page.locator("#message-list .message[data-incident-id]")
    expect(incident_messages).to_have_count(0)
    page.evaluate("window.__noReload = true")

    response = httpx.post(
        f"{server}/webhooks/alertmanager",
        json=_alertmanager_payload("abc123def4567890"),
        timeout=10.0,
    )
    assert response.is_success, f"webhook rejected: {response.status_code} {response.text}"

    expect(incident_messages).to_have_count(1)
    assert page.evaluate("window.__noReload === true"), "the page reloaded instead of streaming"
    message = incident_messages.first
    message_id = message.get_attribute("data-message-id")
    assert message_id, "incident message has no data-message-id"
    expect(message).to_contain_text("checkout")
    expect(page.locator("#incident-count")).to_have_text("1 open incident")
    page.screenshot(path=str(tmp_path / "console-alert.png"), full_page=True)

    message.locator('button[data-command^="ack"]').first.click()

    same_message = page.locator(f'#message-list .message[data-message-id="{message_id}"]')
    try:
        expect(same_message).to_contain_text("Acknowledged")
    except AssertionError:
        banner = page.locator("#error-banner")
        detail = banner.inner_text() if banner.is_visible() else "no error banner shown"
        raise AssertionError(f"{message_id} never showed 'Acknowledged' ({detail})") from None
    expect(same_message).to_contain_text("alice")
    expect(incident_messages).to_have_count(1)
    expect(page.locator("#error-banner")).to_be_hidden()
    assert console.js_errors == [], f"JavaScript errors on the page: {console.js_errors}"
    page.screenshot(path=str(tmp_path / "console-acknowledged.png"), full_page=True)


def test_the_demo_runbook_walkthrough(demo_server: str, console: Console, tmp_path: Path) -> None:
    """The README's "Runbooks in the demo" walkthrough, click by click."""
    expect = sync_api.expect
    page = console.page
    page.goto(f"{demo_server}/")
    page.wait_for_selector('body[data-stream="open"]')
    outage = page.locator(
        "#message-list .message[data-incident-id]", has_text="postgres-primary: PostgresDown"
    )
    expect(outage).to_have_count(1)

    # 1. Run runbook: the suggestions open in the incident's thread, the best fit first.
    outage.locator('button[data-command^="runbooks --incident"]').click()
    thread = page.locator("#thread-panel")
    expect(thread).to_be_visible()
    suggestions = thread.locator(".message[data-message-id]", has_text="best fit first")
    expect(suggestions.locator("tbody tr").first).to_contain_text("demo-failover-postgresql")
    expect(suggestions.locator("tbody tr").first).to_contain_text("ready")
    expect(suggestions).to_contain_text("not runnable here: patronictl not allowed")

    # 2. Plan it: the alerts gave the cluster and the old primary; the form asks the rest.
    suggestions.locator('button[data-command^="run demo-failover-postgresql"]').click()
    form = thread.locator("form[data-form-command]")
    expect(form).to_contain_text("candidate")
    form.locator('select[name="candidate"]').select_option("pg-1")
    page.screenshot(path=str(tmp_path / "demo-form.png"), full_page=True)
    form.locator('button[type="submit"]').click()
    plan = thread.locator(".message[data-message-id]", has_text="dry run: nothing was executed")
    expect(plan).to_contain_text("cluster = prod-eu1 — label cluster of PostgresDown")
    expect(plan).to_contain_text("primary = pg-0 — label instance of PostgresDown")
    expect(plan).to_contain_text("lookout-demo-patroni failover prod-eu1 --candidate=pg-1")

    # 3. Run this: high risk, so a second person approves. (The demo's history holds earlier
    # runs, so the run's id is read from its card.)
    plan.locator('button[data-command^="run --plan R-"]').click()
    card = thread.locator(".message[data-message-id]", has_text="Fail over the demo PostgreSQL")
    card = card.filter(has_text="waiting for a second person to approve")
    expect(card).to_be_visible()
    run_ref = re.findall(r"R-\d+", card.inner_text())[0]
    card = thread.locator(".message[data-message-id]", has_text=f"{run_ref} · Fail over")
    page.fill("#user-input", "bob")
    card.locator(f'button[data-command="approve {run_ref}"]').click()

    # 4. Progress, live: the run stops for a person to confirm the old primary is fenced.
    confirm = card.locator(f'button[data-command="confirm {run_ref}"]')
    expect(confirm).to_be_visible(timeout=30_000)
    expect(card).to_contain_text("✓ 1. Show the cluster")
    expect(card).to_contain_text("more lines")
    confirm.click()

    # 5. The last step fails (on purpose, in the demo) and the rollback runs.
    expect(card).to_contain_text("failed, rolled back", timeout=30_000)
    expect(card).to_contain_text("confirmed by bob")
    expect(card).to_contain_text("✗ 6. Verify writes reach the new primary")
    expect(card).to_contain_text("✓ rollback 1. Return the candidate to a replica")
    expect(card).to_contain_text("Approved by")
    expect(page.locator("#error-banner")).to_be_hidden()
    page.screenshot(path=str(tmp_path / "demo-rolled-back.png"), full_page=True)

    # 6. Every step's whole output stays: Output on the card lists them.
    card.locator(f'button[data-command="run show {run_ref}"]').click()
    outputs = thread.locator(".message[data-message-id]", has_text="Output kept")
    expect(outputs).to_contain_text(f"run show {run_ref} 6")
    assert console.js_errors == [], f"JavaScript errors on the page: {console.js_errors}"
