"""New incidents under a rate limit: time from the Alertmanager webhook to the new incident's
Slack post, while another incident's card is rate limited, against a baseline without one.

Starts `lookout serve` with Slack enabled against the fake Slack Web API (the one the tests
use, on loopback). Baseline: `--incidents` new incidents, one every `--gap` seconds, each
timed from the webhook's 200 to the fake receiving its `chat.postMessage`. Then one incident's
card update is answered HTTP 429 with `Retry-After: --retry-after` (20 s by default), that
incident keeps changing, and the same number of new incidents are timed again while the wait
runs. A notifier that slept inside the call would hold every new incident up to the whole
Retry-After; Lookout's waits only the rate-limited card.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.bot.slack.fake_slack import Failure, FakeSlack, start_fake_slack  # noqa: E402
from tests.conftest import free_port  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def alert(service: str, name: str = "HighErrorRate") -> dict[str, object]:
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return {
        "version": "4",
        "groupKey": f'{{}}:{{service="{service}"}}',
        "status": "firing",
        "alerts": [
            {
                "labels": {"alertname": name, "service": service, "severity": "critical"},
                "annotations": {"summary": "5xx above 5%"},
                "startsAt": now,
            }
        ],
    }


def posted_at(fake: FakeSlack, service: str) -> float | None:
    for call in fake.calls_to("chat.postMessage"):
        if "metadata" in call.params and f"{service}:" in str(call.params.get("text")):
            return call.at
    return None


async def time_new_incidents(
    client: httpx.AsyncClient, fake: FakeSlack, prefix: str, count: int, gap: float
) -> list[float]:
    """Seconds from each new incident's webhook answer to its card reaching Slack."""
    sent: dict[str, float] = {}
    for number in range(count):
        service = f"{prefix}-{number:03d}"
        (await client.post("/webhooks/alertmanager", json=alert(service))).raise_for_status()
        sent[service] = time.monotonic()
        await asyncio.sleep(gap)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if all(posted_at(fake, service) is not None for service in sent):
            break
        await asyncio.sleep(0.02)
    return [(posted_at(fake, service) or deadline) - at for service, at in sent.items()]


async def run(args: argparse.Namespace) -> int:
    fake, fake_server, fake_task = await start_fake_slack()
    port = free_port()
    env = {
        **os.environ,
        "LOOKOUT_DATA_DIR": tempfile.mkdtemp(prefix="lookout-ratelimit-bench-"),
        "LOOKOUT_PORT": str(port),
        "SLACK_BOT_TOKEN": "xoxb-bench",
        "SLACK_SIGNING_SECRET": "bench-signing-secret",
        "SLACK_API_URL": fake.api_url,
        "LOOKOUT_LOG_LEVEL": "ERROR",
    }
    server = await asyncio.create_subprocess_exec(sys.executable, "-m", "bot", "serve", env=env)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            for _ in range(300):
                try:
                    if (await client.get("/healthz")).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.1)
            baseline = await time_new_incidents(client, fake, "base", args.incidents, args.gap)
            # One card rate limited: its update answered 429, and it keeps changing.
            (await client.post("/webhooks/alertmanager", json=alert("hot"))).raise_for_status()
            await fake.wait_until(lambda: posted_at(fake, "hot") is not None, 30)
            fake.fail("chat.update", Failure(status=429, retry_after=int(args.retry_after)))
            updates_before = len(fake.calls_to("chat.update"))
            for number in range(3):
                hot = alert("hot", f"Spreading{number}")
                (await client.post("/webhooks/alertmanager", json=hot)).raise_for_status()
            limited_at = time.monotonic()
            limited = await time_new_incidents(client, fake, "new", args.incidents, args.gap)
            window = time.monotonic() - limited_at
            blocked_updates = len(fake.calls_to("chat.update")) - updates_before
    finally:
        server.terminate()
        await asyncio.wait_for(server.wait(), timeout=15)
        fake_server.should_exit = True
        await asyncio.wait_for(fake_task, timeout=10)
    base_p50, base_p99 = statistics.median(baseline), percentile(baseline, 99)
    lim_p50, lim_p99 = statistics.median(limited), percentile(limited, 99)
    print(f"new incident → Slack post, {args.incidents} incidents each, 2-core machine")
    base = f"p50 {base_p50 * 1000:7.1f} ms  p99 {base_p99 * 1000:7.1f} ms"
    print(f"  baseline (no rate limit):        {base}")
    print(
        f"  another card under Retry-After {args.retry_after:g} s: "
        f"p50 {lim_p50 * 1000:7.1f} ms  p99 {lim_p99 * 1000:7.1f} ms"
    )
    print(f"  ratio p99 (rate limited / baseline): {lim_p99 / base_p99:.2f}")
    print(
        f"  the limited card's update was sent {blocked_updates} time(s) in the "
        f"{window:.1f} s measured (no retry before its Retry-After)"
    )
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--incidents", type=int, default=30)
    parser.add_argument("--gap", type=float, default=0.25, help="seconds between incidents")
    parser.add_argument("--retry-after", type=float, default=20)
    return asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    raise SystemExit(main())
