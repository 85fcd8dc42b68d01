"""How fast a runbook run's card appears in Slack: with an Approve button, and without one.

Starts `lookout serve` with Slack enabled against the fake Slack Web API the tests use (on
loopback) and two runbooks that differ only in their approval (`medium` risk: a responder
approves; `low`: none), opens an incident through the Alertmanager webhook, then sends signed
`/lookout run <runbook> --incident INC-1` slash commands one at a time through the real
`POST /slack/events`, alternating the two runbooks. Measured: from sending the command to the
fake Slack receiving the run's card (`chat.postMessage` in the incident's thread). Baseline in
the same run: `/lookout show INC-1`, whose answer goes to the same thread — "any answer".

The card of a run that waits for approval should come as fast as that of a run that starts at
once, and as fast as any answer: no wait for the notifier's idle pass (5 s).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.slack_ack import command, percentile, signed, storm  # noqa: E402
from tests.bot.slack.fake_slack import FakeSlack, start_fake_slack  # noqa: E402
from tests.conftest import free_port  # noqa: E402

ROOT_TS = "1700000000.000001"  # the fake's first post: the incident's root message
RUNBOOKS = {
    "needs-approval": "medium",
    "no-approval": "low",
}


def runbook(name: str, risk: str) -> dict[str, object]:
    return {
        "name": name,
        "title": name.replace("-", " ").capitalize(),
        "risk": risk,
        "policy": {"max_runs_per_hour": 1000},
        "steps": [{"name": "Echo", "kind": "exec", "argv": ["/bin/echo", "ok"]}],
    }


def write_config(folder: Path) -> Path:
    books = folder / "runbooks"
    books.mkdir()
    for name, risk in RUNBOOKS.items():
        (books / f"{name}.yaml").write_text(yaml.safe_dump(runbook(name, risk)))
    config = folder / "lookout.yaml"
    execution = {"executables": ["/bin/echo"]}
    config.write_text(
        yaml.safe_dump(
            {"runbooks": {"library": False, "folders": [str(books)], "execution": execution}}
        )
    )
    return config


async def until(fake: FakeSlack, done: object, within: float = 30) -> bool:
    try:
        await fake.wait_until(done, within=within)  # type: ignore[arg-type]
    except AssertionError:
        return False
    return True


def posted_in_thread(fake: FakeSlack, after: int, pattern: re.Pattern[str]) -> float | None:
    """When the first thread post after call `after` matching `pattern` arrived."""
    for call in fake.calls[after:]:
        if call.method != "chat.postMessage" or call.params.get("thread_ts") != ROOT_TS:
            continue
        if pattern.search(str(call.params.get("text"))):
            return call.at
    return None


async def run(args: argparse.Namespace) -> int:
    fake, fake_server, fake_task = await start_fake_slack()
    port = free_port()
    data = Path(tempfile.mkdtemp(prefix="lookout-run-card-bench-"))
    env = {
        **os.environ,
        "LOOKOUT_DATA_DIR": str(data / "data"),
        "LOOKOUT_PORT": str(port),
        "LOOKOUT_CONFIG": str(write_config(data)),
        "SLACK_BOT_TOKEN": "xoxb-bench",
        "SLACK_SIGNING_SECRET": "bench-signing-secret",
        "SLACK_CHANNEL": "#incidents",
        "SLACK_API_URL": fake.api_url,
        "LOOKOUT_LOG_LEVEL": "WARNING",
    }
    server = await asyncio.create_subprocess_exec(sys.executable, "-m", "bot", "serve", env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            for _ in range(300):
                try:
                    if (await client.get("/healthz")).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.1)
            else:
                print("lookout did not start", file=sys.stderr)
                return 1
            (await client.post("/webhooks/alertmanager", json=storm(1)[0])).raise_for_status()
            if not await until(fake, lambda: fake.calls_to("chat.postMessage")):
                print("the incident message was not posted", file=sys.stderr)
                return 1
            return await measure(args, client, fake)
    finally:
        server.terminate()
        await asyncio.wait_for(server.wait(), timeout=15)
        fake_server.should_exit = True
        await asyncio.wait_for(fake_task, timeout=10)


async def measure(args: argparse.Namespace, client: httpx.AsyncClient, fake: FakeSlack) -> int:
    times: dict[str, list[float]] = {"show INC-1 (baseline)": [], **{n: [] for n in RUNBOOKS}}
    run_id = 0
    for round_ in range(args.rounds):
        for name in RUNBOOKS:
            run_id += 1
            text = f"run {name} --incident INC-1"
            card = re.compile(rf"R-{run_id} ·")
            times[name].append(await timed(client, fake, text, card, f"{round_}-{name}"))
        show = re.compile(r"INC-1 ·")
        times["show INC-1 (baseline)"].append(
            await timed(client, fake, "show INC-1", show, f"{round_}-show")
        )
    report(args, times)
    return 0


async def timed(
    client: httpx.AsyncClient, fake: FakeSlack, text: str, answer: re.Pattern[str], key: str
) -> float:
    body = command(
        text, channel="C0INCIDENTS", trigger=f"t-{key}", response_url=fake.response_url(key)
    )
    before = len(fake.calls)
    sent = time.monotonic()
    response = await client.post("/slack/events", content=body, headers=signed(body))
    response.raise_for_status()
    if not await until(fake, lambda: posted_in_thread(fake, before, answer) is not None):
        raise RuntimeError(f"no answer to {text!r} in the thread")
    arrived = posted_in_thread(fake, before, answer)
    assert arrived is not None
    return arrived - sent


def report(args: argparse.Namespace, times: dict[str, list[float]]) -> None:
    ms = 1000
    print(f"Run cards in Slack: {args.rounds} runs of each runbook, one command at a time")
    baseline = statistics.median(times["show INC-1 (baseline)"])
    for name, values in times.items():
        label = {
            "needs-approval": "run, waits for approval",
            "no-approval": "run, no approval",
        }.get(name, name)
        print(
            f"  {label:<26} p50 {percentile(values, 50) * ms:6.0f} ms   "
            f"p95 {percentile(values, 95) * ms:6.0f} ms   max {max(values) * ms:6.0f} ms   "
            f"p50 / baseline p50 {statistics.median(values) / baseline:4.2f}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=20, help="runs of each runbook")
    return asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
