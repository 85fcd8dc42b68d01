"""Browser end-to-end tests of the local console.

Start the real server (``python -m bot serve``) on a free loopback port and drive the console
in headless Chromium: an Alertmanager webhook shows up live as one incident message whose
Acknowledge button updates that same message in place; and, on ``serve --demo``, the README's
runbook walkthrough click by click — suggestion, plan (with the form for what the alerts do not
say), Run this, a second person's approval (the "You are" picker), a manual confirmation,
progress, and the rollback when a step fails. And, with incidents routed to another channel,
times in the browser's zone with their dates, the line left where a command was typed when
its answer went to the incident's thread, the incident list jumping to the incident, long text
folded, and the page at phone width.
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
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

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


ROUTED = """
routing:
  default_channel: "#incidents"
services:
  - name: checkout
    channel: "#platform"
"""


@pytest.fixture
def routed_server(tmp_path: Path) -> Iterator[str]:
    """``python -m bot serve`` with checkout's incidents posted in #platform."""
    config = tmp_path / "lookout.yaml"
    config.write_text(ROUTED)
    yield from _serve(tmp_path, [], {"LOOKOUT_CONFIG": str(config)})


def _serve(
    tmp_path: Path, extra: list[str], settings: dict[str, str] | None = None
) -> Iterator[str]:
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOOKOUT_")}
    env.update(settings or {})
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


def _alertmanager_payload(
    fingerprint: str,
    *,
    service: str = "checkout",
    starts_at: datetime | None = None,
    description: str | None = None,
) -> dict[str, Any]:
    labels = {"alertname": "HighErrorRate", "service": service, "severity": "critical"}
    annotations = {"summary": "5xx ratio above 5%"}
    if description:
        annotations["description"] = description
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
                "annotations": annotations,
                "startsAt": (starts_at or datetime.now(UTC)).isoformat(),
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
    # The demo posts its outage once it has seeded it; on a busy machine that takes a while.
    expect(outage).to_have_count(1, timeout=30_000)

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


READER_ZONE = "Asia/Kolkata"  # UTC+05:30: a UTC clock time can never pass for the reader's


def _reader_text(moment: datetime) -> tuple[str, str]:
    """(date, clock) as an en-GB browser in READER_ZONE shows `moment`: "21 Nov", "21:23:43"."""
    local = moment.astimezone(ZoneInfo(READER_ZONE))
    return f"{local.day} {local:%b}", f"{local:%H:%M:%S}"


def test_times_pointer_jump_fold_and_phone_width(routed_server: str, tmp_path: Path) -> None:
    """Nine-day-old and 2021 times carry their dates in the browser's zone; `show` typed in
    #incidents about a #platform incident leaves a link there that opens the answer; the
    incident list jumps to #platform; a long answer folds; 360 px wide pages do not scroll
    sideways and the command box works."""
    expect = sync_api.expect
    now = datetime.now(UTC).replace(microsecond=0)
    old = (now - timedelta(days=9)).replace(hour=15, minute=53, second=43)
    other_year = datetime(2021, 1, 1, tzinfo=UTC)
    for fingerprint, service, starts_at in (
        ("0ld0ld0ld0ld0ld0", "checkout", old),
        ("fu7ure0fu7ure0fu", "billing", other_year),
    ):
        response = httpx.post(
            f"{routed_server}/webhooks/alertmanager",
            json=_alertmanager_payload(
                fingerprint, service=service, starts_at=starts_at, description="x " * 600
            ),
            timeout=10.0,
        )
        assert response.is_success, response.text
    checkout: dict[str, Any] = {}
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while not checkout.get("message") and time.monotonic() < deadline:
        time.sleep(0.2)  # the card is posted in the background
        incidents = httpx.get(f"{routed_server}/console/api/incidents", timeout=10.0).json()
        checkout = next((i for i in incidents if i["service"] == "checkout"), {})
    assert checkout.get("channel") == "#platform" and checkout["message"], checkout

    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            errors: list[str] = []
            context = browser.new_context(
                viewport={"width": 1400, "height": 900}, timezone_id=READER_ZONE, locale="en-GB"
            )
            page = context.new_page()
            page.set_default_timeout(UI_TIMEOUT_MS)
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(f"{routed_server}/")
            page.wait_for_selector('body[data-stream="open"]')
            page.wait_for_selector('#message-list[data-loaded="true"]')

            # The 2021 alert's card in #incidents: its start carries its date and year.
            card = page.locator("#message-list .message[data-incident-id]")
            expect(card).to_have_count(1)
            started = card.locator("time.moment").first
            expect(started).to_contain_text("2021")
            expect(card).not_to_contain_text("UTC")

            # `show` typed in #incidents: the answer goes to #platform's thread; here, a link.
            page.fill("#command-input", f"/lookout show INC-{checkout['id']}")
            page.press("#command-input", "Enter")
            pointer = page.locator("#message-list .message", has_text="Answered in")
            expect(pointer).to_have_count(1)
            pointer.locator("a.console-link").click()
            expect(page.locator("#channel-list .channel.active")).to_have_text("#platform")
            thread = page.locator("#thread-panel")
            expect(thread).to_be_visible()
            answer = thread.locator(".message[data-message-id]", has_text="Alerts (1)")
            expect(answer).to_have_count(1)
            day, clock = _reader_text(old)
            expect(answer).to_contain_text(f"{day}, {clock}")
            expect(answer).not_to_contain_text("15:53:43 UTC")

            # A long block is folded behind "Show more", whole after one click.
            fold = answer.locator(".foldable.is-folded")
            expect(fold).to_have_count(1)
            fold.locator(".show-more").click()
            expect(answer.locator(".foldable.is-folded")).to_have_count(0)
            page.screenshot(path=str(tmp_path / "console-times.png"), full_page=True)

            # The open-incidents list jumps to the incident wherever it is.
            page.locator('#channel-list .channel[data-channel="#incidents"]').click()
            expect(page.locator("#thread-panel")).to_be_hidden()
            page.locator("#incident-pill").click()
            page.locator(f'.popover-row[data-incident-id="{checkout["id"]}"]').click()
            expect(page.locator("#channel-list .channel.active")).to_have_text("#platform")
            expect(page.locator("#thread-panel")).to_have_attribute(
                "data-root-id", checkout["message"]
            )
            assert errors == [], f"JavaScript errors on the page: {errors}"

            # Phone width: nothing scrolls sideways, and the command box works.
            phone = browser.new_context(
                viewport={"width": 360, "height": 740}, timezone_id=READER_ZONE, locale="en-GB"
            ).new_page()
            phone.set_default_timeout(UI_TIMEOUT_MS)
            phone.on("pageerror", lambda exc: errors.append(str(exc)))
            phone.goto(f"{routed_server}/")
            phone.wait_for_selector('#message-list[data-loaded="true"]')
            box = phone.locator("#command-input").bounding_box()
            assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 360, box
            assert box["width"] >= 250, box
            phone.fill("#command-input", "/lookout incidents")
            phone.press("#command-input", "Enter")
            expect(
                phone.locator("#message-list .message", has_text="/lookout incidents")
            ).to_have_count(1)
            phone.locator('#channel-list .channel[data-channel="#platform"]').click()
            phone.wait_for_selector('#message-list[data-loaded="true"]')
            wide = phone.evaluate(
                "Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)"
            )
            assert wide <= 360, f"the page is {wide} px wide at a 360 px viewport"
            phone.screenshot(path=str(tmp_path / "console-phone.png"), full_page=True)
            assert errors == [], f"JavaScript errors on the page: {errors}"
        finally:
            browser.close()
