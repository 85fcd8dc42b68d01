"""A realistic mix of traffic against running Lookout servers, one replica and three.

For `--seconds` (default 60) per setup, against (a) one `lookout serve` on SQLite with the
embedded Chroma and (b) `--replicas` (default 3) replicas sharing one fresh PostgreSQL
database on 127.0.0.1:5432 (created here, dropped after) and a `chroma run` server when the
chromadb CLI is installed (else each replica's embedded Chroma, said so in the output):

* Alertmanager batches: `POST /webhooks/alertmanager` every `--alert-interval` s, the shape
  of the recorded delivery in shared/fixtures/alertmanager (1-5 alerts, services drawn from
  a pool, now and then a resolved one);
* change events: the recorded GitHub `deployment` delivery and an Argo CD notification,
  each with a new id, every `--change-interval` s;
* Slack: `--users` people, each sending a signed request through `POST /slack/events` as
  soon as the previous one was answered — slash commands `incidents`, `show INC-k`, `ask …`,
  `similar …`, and clicks on incident messages' buttons (`show`, `ack`). Ack time is the
  HTTP response; answer time when the fake Slack Web API (tests/bot/slack/fake_slack.py,
  on loopback) receives the answer: for a slash command, the first post in the channel it
  was typed in (the answer, or the line pointing to it in the incident's thread) or its
  response_url; for a click, the post of its kind in the incident's thread (an ack's names
  the person: each simulated person is a Slack user of their own) or its response_url.

Requests go round-robin over the replicas, as a load balancer would send them. Printed per
setup: requests and throughput, p50/p99 per endpoint, errors (non-2xx, no answer within
30 s, "Something went wrong" answers), and each process's resident memory (max while
running, from /proc) and CPU while the load runs. Throughput is commands answered per
second of load: answers that arrive while it runs (the requests still waiting when it ends
get up to 30 s more, and count as errors if unanswered). Targets: 0 errors, Slack ack p99
< 100 ms, three replicas ≥ 1.5× one replica's throughput, RSS < 400 MB per replica with the
embedding model loaded (an `ask` on every replica before the clock starts loads it).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import copy
import hashlib
import hmac
import itertools
import json
import os
import random
import re
import shutil
import signal
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict, deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.bot.slack.fake_slack import CHANNEL_IDS, FakeSlack, start_fake_slack  # noqa: E402
from tests.conftest import POSTGRES_ADMIN_URL, free_port  # noqa: E402

FIXTURES = REPO.parent / "shared" / "fixtures"
if not FIXTURES.is_dir():
    FIXTURES = Path("/work/shared/fixtures")
SECRET = "load-signing-secret"
ANSWER_TIMEOUT = 30.0
SERVICES = [f"svc-{n:02d}" for n in range(24)]
QUESTIONS = (
    "why did checkout return 5xx",
    "database connection pool exhausted",
    "how do we fix high latency on the api",
    "certificate expiring",
    "disk full on a node",
    "pods crash looping after a deploy",
)
# What people type or click, with weights.
MIX = (
    ("incidents", 25),
    ("show", 25),
    ("similar", 15),
    ("ask", 10),
    ("button show", 15),
    ("button ack", 10),
)
ERROR_TEXT = "Something went wrong"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def rss_mb(pid: int) -> float:
    """Resident memory of `pid` in MB (Linux /proc; 0.0 when it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of `pid` so far (Linux /proc; 0.0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far (/proc/stat)."""
    try:
        values = [int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    except OSError:
        return 0.0, 0.0
    idle = values[3] + values[4]
    tick = os.sysconf("SC_CLK_TCK")
    return (sum(values) - idle) / tick, sum(values) / tick


def user_of(person: int) -> tuple[str, str]:
    """The Slack user id and display name of simulated person `person`."""
    return f"WLOAD{person:03d}", f"Load {person:03d}"


def signed(body: bytes, content_type: str) -> dict[str, str]:
    stamp = str(int(time.time()))
    digest = hmac.new(SECRET.encode(), b"v0:" + stamp.encode() + b":" + body, hashlib.sha256)
    return {
        "content-type": content_type,
        "x-slack-request-timestamp": stamp,
        "x-slack-signature": "v0=" + digest.hexdigest(),
    }


# Payloads, from the recorded fixtures.


def _fixture(path: str) -> Any:
    return json.loads((FIXTURES / path).read_text())


def _iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Payloads:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.delivery = _fixture("alertmanager/05_alertmonitor_firing_3alerts.json")
        self.deployment = _fixture("github/01_octokit_deployment_created.json")
        self.firing: list[dict[str, Any]] = []
        self.ids = itertools.count(1)

    def alert_batch(self) -> dict[str, Any]:
        """An Alertmanager delivery: 1-5 alerts of one group, now and then a resolved one."""
        now = datetime.now(UTC)
        body: dict[str, Any] = copy.deepcopy(self.delivery)
        template = body["alerts"][0]
        service = self.rng.choice(SERVICES)
        name = self.rng.choice(("HighErrorRate", "HighLatency", "PodCrashLooping"))
        alerts = []
        for _ in range(self.rng.randint(1, 5)):
            alert = copy.deepcopy(template)
            instance = f"10.0.{self.rng.randint(0, 9)}.{self.rng.randint(1, 250)}"
            alert["labels"] = {
                "alertname": name,
                "service": service,
                "instance": instance,
                "job": "api",
                "severity": self.rng.choice(("critical", "warning")),
            }
            alert["annotations"] = {"summary": f"{name} on {service}", "description": instance}
            alert["startsAt"] = _iso(now - timedelta(seconds=self.rng.randint(0, 120)))
            alerts.append(alert)
        if self.firing and self.rng.random() < 0.2:
            resolved = self.firing.pop(0)
            resolved["status"] = "resolved"
            resolved["endsAt"] = _iso(now)
            alerts.append(resolved)
        self.firing.extend(copy.deepcopy(a) for a in alerts if a["status"] == "firing")
        del self.firing[:-50]
        labels = {"alertname": name, "service": service}
        body.update(
            status="firing",
            alerts=alerts,
            groupLabels=labels,
            commonLabels=labels,
            groupKey=f'{{}}:{{alertname="{name}", service="{service}"}}',
            truncatedAlerts=0,
        )
        return body

    def github(self) -> dict[str, Any]:
        body: dict[str, Any] = copy.deepcopy(self.deployment)
        number = next(self.ids)
        body["deployment"]["id"] = 900_000_000 + number
        body["deployment"]["sha"] = hashlib.sha1(str(number).encode()).hexdigest()
        body["deployment"]["created_at"] = _iso(datetime.now(UTC))
        body["deployment"]["updated_at"] = body["deployment"]["created_at"]
        return body

    def argocd(self) -> dict[str, Any]:
        now = datetime.now(UTC)
        number = next(self.ids)
        return {
            "app": {
                "metadata": {"name": self.rng.choice(SERVICES), "labels": {"env": "prod"}},
                "status": {
                    "operationState": {
                        "phase": "Succeeded",
                        "startedAt": (now - timedelta(minutes=2)).isoformat(),
                        "finishedAt": now.isoformat(),
                        "syncResult": {"revision": hashlib.sha1(b"%d" % number).hexdigest()},
                    }
                },
            }
        }


# Answers: which post on the fake Slack answers which request.


@dataclass
class Answer:
    at: float
    text: str


CARD = re.compile(r"\S+ \*INC-(\d+) · ")


ACKED = re.compile(r"acknowledged by \*([^*]+)\*")


def thread_key(thread: str, text: str) -> str:
    """What a post in an incident's thread answers: an ack (by whom), a `show` (the
    incident's card), or something else (Lookout's own updates: not an answer)."""
    acked = ACKED.search(text)
    if acked:
        return f"thread:{thread}:ack:{acked[1]}"
    if CARD.match(text):
        return f"thread:{thread}:show"
    return f"thread:{thread}:other"


class AnswerBook:
    """Matches what the fake Slack receives to the requests waiting for it: a post in a
    channel of its own, a response_url call of its own, or a post of its kind in an
    incident's thread (oldest waiting request of that kind first: those answers are alike)."""

    def __init__(self, fake: FakeSlack) -> None:
        self.fake = fake
        # Only what arrives from now on: an earlier setup's incidents had the same numbers.
        self.read = len(fake.calls)
        self.waiting: dict[str, deque[asyncio.Future[Answer]]] = defaultdict(deque)
        self.incidents: dict[int, tuple[str, str]] = {}  # INC number → (channel, root ts)
        self._history_seen = {channel: len(found) for channel, found in fake.history.items()}
        self._posted_before: set[str] = set()

    def expect(self, *keys: str) -> asyncio.Future[Answer]:
        future: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        for key in keys:
            self.waiting[key].append(future)
        return future

    def _resolve(self, key: str, answer: Answer) -> None:
        queue = self.waiting.get(key)
        while queue:
            future = queue.popleft()
            if not future.done():
                future.set_result(answer)
                return

    def pump(self) -> None:
        """Take what the fake received since the last pump. Only the channels that got a
        root message are searched for incident cards (a slash command's channel is new
        each time: thousands of them), now and at the next pump."""
        calls = self.fake.calls
        posted: set[str] = set()
        while self.read < len(calls):
            call = calls[self.read]
            self.read += 1
            params = call.params
            plain = str(params.get("text") or "")
            text = plain or json.dumps(params.get("blocks") or "")[:4000]
            if call.method == "response_url":
                self._resolve(f"hook:{params.get('_hook')}", Answer(call.at, text))
            elif call.method in ("chat.postMessage", "chat.postEphemeral"):
                thread = params.get("thread_ts")
                key = thread_key(thread, plain) if thread else f"channel:{params.get('channel')}"
                self._resolve(key, Answer(call.at, text))
                if not thread:
                    named = str(params.get("channel"))
                    posted.add(CHANNEL_IDS.get(named, named))  # as the fake files it
        for channel in posted | self._posted_before:
            messages = self.fake.history.get(channel, [])
            for message in messages[self._history_seen.get(channel, 0) :]:
                # An incident's card ("🔴 *INC-7 · …"), not any message naming it: an
                # `incidents` answer may list INC-7 before its card is posted.
                found = CARD.match(str(message.get("text") or ""))
                if found and not message.get("thread_ts"):
                    self.incidents.setdefault(int(found[1]), (channel, str(message["ts"])))
            self._history_seen[channel] = len(messages)
        self._posted_before = posted

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self.pump()
            await asyncio.sleep(0.005)


# Servers.


@dataclass
class Server:
    name: str
    url: str
    process: asyncio.subprocess.Process


@dataclass
class Setup:
    name: str
    servers: list[Server]
    others: dict[str, int] = field(default_factory=dict)  # helper processes: name → pid
    notes: list[str] = field(default_factory=list)


def server_env(fake: FakeSlack, data: Path, port: int, database_url: str | None) -> dict[str, str]:
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "LOOKOUT_DATA_DIR": str(data),
        "LOOKOUT_PORT": str(port),
        "SLACK_BOT_TOKEN": "xoxb-load",
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": fake.api_url,
        "LOOKOUT_LOG_LEVEL": "WARNING",
    }
    env.pop("LOOKOUT_DATABASE_URL", None)
    env.pop("LOOKOUT_CHROMA_URL", None)
    if database_url:
        env["LOOKOUT_DATABASE_URL"] = database_url
    return env


async def wait_healthy(session: aiohttp.ClientSession, url: str, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with contextlib.suppress(aiohttp.ClientError, OSError):
            async with session.get(f"{url}/readyz") as response:
                if response.status == 200:
                    return
        await asyncio.sleep(0.2)
    raise RuntimeError(f"{url} did not become ready")


async def stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), 20)
        except TimeoutError:
            process.kill()
            await process.wait()


@contextlib.asynccontextmanager
async def postgres_database() -> AsyncIterator[str]:
    """A fresh database on the local PostgreSQL, dropped afterwards."""
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    name = f"lookout_load_{uuid.uuid4().hex[:10]}"
    admin = create_async_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    async with admin.connect() as connection:
        await connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    finally:
        async with admin.connect() as connection:
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


@contextlib.asynccontextmanager
async def chroma_server(
    session: aiohttp.ClientSession, folder: Path
) -> AsyncIterator[tuple[str, int] | None]:
    """`chroma run` on a free loopback port, or None when the CLI is not installed."""
    cli = shutil.which("chroma", path=str(Path(sys.executable).parent)) or shutil.which("chroma")
    if cli is None:
        yield None
        return
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        *(cli, "run", "--path", str(folder), "--host", "127.0.0.1", "--port", str(port)),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(aiohttp.ClientError, OSError):
                async with session.get(f"{url}/api/v2/heartbeat") as response:
                    if response.status == 200:
                        break
            if time.monotonic() > deadline or process.returncode is not None:
                raise RuntimeError("chroma run did not start")
            await asyncio.sleep(0.2)
        yield url, process.pid
    finally:
        await stop(process)


@contextlib.asynccontextmanager
async def running(
    name: str,
    fake: FakeSlack,
    session: aiohttp.ClientSession,
    *,
    replicas: int,
    database_url: str | None,
    chroma_url: str | None,
) -> AsyncIterator[list[Server]]:
    root = Path(tempfile.mkdtemp(prefix="lookout-load-"))
    servers: list[Server] = []
    try:
        if database_url:  # one migration before the replicas start, as a deploy would run it
            env = server_env(fake, root, free_port(), database_url)
            upgrade = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", "db", "upgrade", env=env
            )
            if await upgrade.wait() != 0:
                raise RuntimeError("lookout db upgrade failed")
        for index in range(replicas):
            port = free_port()
            data = root / f"replica-{index + 1}"
            data.mkdir()
            env = server_env(fake, data, port, database_url)
            if chroma_url:
                env["LOOKOUT_CHROMA_URL"] = chroma_url
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", "serve", env=env
            )
            servers.append(Server(f"replica {index + 1}", f"http://127.0.0.1:{port}", process))
        for server in servers:
            await wait_healthy(session, server.url)
        yield servers
    finally:
        await asyncio.gather(*(stop(server.process) for server in servers))
        shutil.rmtree(root, ignore_errors=True)


# The load.


@dataclass
class Results:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: Counter[str] = field(default_factory=Counter)
    answered: int = 0
    rss: dict[str, float] = field(default_factory=dict)
    cpu: dict[str, float] = field(default_factory=dict)  # CPU seconds used while running
    machine: float = 0.0  # share of the machine's CPU busy while running (everything on it)
    seconds: float = 0.0  # of load
    drained: float = 0.0  # after it, until the last request was answered or given up
    connections: dict[str, float] = field(default_factory=dict)  # database connections opened
    skipped: int = 0  # requests about an incident while no incident's card had been seen


class Load:
    def __init__(
        self,
        args: argparse.Namespace,
        fake: FakeSlack,
        book: AnswerBook,
        session: aiohttp.ClientSession,
        urls: list[str],
    ) -> None:
        self.args = args
        self.fake = fake
        self.book = book
        self.session = session
        self.urls = itertools.cycle(urls)
        self.rng = random.Random(args.seed)
        self.payloads = Payloads(self.rng)
        self.results = Results()
        self.numbers = itertools.count(1)
        self.tag = uuid.uuid4().hex[:6]

    async def post(self, endpoint: str, path: str, **kwargs: Any) -> tuple[int, str]:
        started = time.perf_counter()
        try:
            async with self.session.post(next(self.urls) + path, **kwargs) as response:
                body = await response.text()
                status = response.status
        except (aiohttp.ClientError, TimeoutError) as error:
            self.results.errors[f"{endpoint}: {type(error).__name__}"] += 1
            return 0, ""
        self.results.latencies[endpoint].append(time.perf_counter() - started)
        if status >= 300 and not (status == 202 and "ignored" in body):
            self.results.errors[f"{endpoint}: HTTP {status} {body[:120]}"] += 1
        return status, body

    async def alerts(self, until: float) -> None:
        while time.monotonic() < until:
            body = self.payloads.alert_batch()
            await self.post("POST /webhooks/alertmanager", "/webhooks/alertmanager", json=body)
            await asyncio.sleep(self.args.alert_interval)

    async def changes(self, until: float) -> None:
        while time.monotonic() < until:
            await self.post(
                "POST /webhooks/changes/github",
                "/webhooks/changes/github",
                json=self.payloads.github(),
                headers={"x-github-event": "deployment"},
            )
            await asyncio.sleep(self.args.change_interval / 2)
            await self.post(
                "POST /webhooks/changes/argocd",
                "/webhooks/changes/argocd",
                json=self.payloads.argocd(),
            )
            await asyncio.sleep(self.args.change_interval / 2)

    def _incident(self) -> tuple[int, str, str] | None:
        if not self.book.incidents:
            return None
        number = self.rng.choice(list(self.book.incidents))
        channel, ts = self.book.incidents[number]
        return number, channel, ts

    def _request(self, kind: str, n: int, person: int) -> tuple[bytes, str, tuple[str, ...]] | None:
        """(body, content type, answer keys) of one request of `kind` by `person`."""
        hook = f"load-{self.tag}-{n}"
        response_url = self.fake.response_url(hook)
        trigger = f"{self.tag}.{n}"
        own_channel = f"CLOAD{self.tag.upper()}{n:06d}"
        user, name = user_of(person)
        incident = self._incident()
        if kind.startswith("button"):
            if incident is None:
                return None
            number, channel, ts = incident
            verb = kind.split()[1]
            payload = {
                "type": "block_actions",
                "user": {"id": user, "username": name, "name": name, "team_id": "T111"},
                "api_app_id": "A111",
                "token": "verification_token",
                "container": {"type": "message", "message_ts": ts, "channel_id": channel},
                "trigger_id": trigger,
                "team": {"id": "T111", "domain": "workspace-domain"},
                "channel": {"id": channel, "name": "incidents"},
                "message": {"ts": ts, "type": "message", "text": f"INC-{number}"},
                "response_url": response_url,
                "actions": [
                    {
                        "action_id": f"lookout:0:{verb}",
                        "block_id": "b",
                        "type": "button",
                        "value": json.dumps({"command": f"{verb} INC-{number}"}),
                        "action_ts": f"{time.time():.6f}",
                    }
                ],
            }
            body = urlencode({"payload": json.dumps(payload)}).encode()
            answer = f"thread:{ts}:ack:{name}" if verb == "ack" else f"thread:{ts}:show"
            return body, "application/x-www-form-urlencoded", (f"hook:{hook}", answer)
        # A slash command's answer, or the line pointing to it, lands where it was typed.
        keys = (f"hook:{hook}", f"channel:{own_channel}")
        if kind == "show":
            if incident is None:
                return None
            text = f"show INC-{incident[0]}"
        elif kind == "similar":
            text = f"similar INC-{incident[0]}" if incident else "similar errors on checkout"
        elif kind == "ask":
            text = f"ask {self.rng.choice(QUESTIONS)}"
        else:
            text = "incidents"
        form = {
            "command": "/lookout",
            "text": text,
            "user_id": user,
            "user_name": name,
            "channel_id": own_channel,
            "team_id": "T111",
            "trigger_id": trigger,
            "response_url": response_url,
        }
        return urlencode(form).encode(), "application/x-www-form-urlencoded", keys

    async def person(self, number: int, until: float) -> None:
        kinds = [kind for kind, _ in MIX]
        weights = [weight for _, weight in MIX]
        while time.monotonic() < until:
            kind = self.rng.choices(kinds, weights)[0]
            request = self._request(kind, next(self.numbers), number)
            if request is None:
                self.results.skipped += 1
                await asyncio.sleep(0.05)
                continue
            body, content_type, keys = request
            answer = self.book.expect(*keys)
            sent = time.monotonic()
            status, _ = await self.post(
                "Slack ack", "/slack/events", data=body, headers=signed(body, content_type)
            )
            if status != 200:
                answer.cancel()
                continue
            try:
                found = await asyncio.wait_for(asyncio.shield(answer), ANSWER_TIMEOUT)
            except TimeoutError:
                answer.cancel()
                self.results.errors[f"answer {kind}: none within {ANSWER_TIMEOUT:.0f} s"] += 1
                continue
            self.results.latencies[f"answer {kind}"].append(found.at - sent)
            if found.at <= until:
                self.results.answered += 1
            if ERROR_TEXT in found.text:
                self.results.errors[f"answer {kind}: {ERROR_TEXT}"] += 1
            if self.args.think:
                await asyncio.sleep(self.rng.uniform(0, self.args.think))

    async def warm_up(self, urls: list[str]) -> None:
        """Incidents to talk about, and the embedding model loaded on every replica."""
        for _ in range(8):
            await self.post("warm-up", "/webhooks/alertmanager", json=self.payloads.alert_batch())
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if len(self.book.incidents) >= 3:
                break
            await asyncio.sleep(0.2)
        for url in urls:
            n = next(self.numbers)
            request = self._request("ask", n, 0)
            assert request is not None
            body, content_type, keys = request
            answer = self.book.expect(*keys)
            async with self.session.post(
                url + "/slack/events", data=body, headers=signed(body, content_type)
            ) as response:
                await response.read()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(answer, 90)
        self.results = Results()

    async def run(self, seconds: float, pids: dict[str, int]) -> Results:
        until = time.monotonic() + seconds
        peak: dict[str, float] = defaultdict(float)

        cpu = {name: cpu_seconds(pid) for name, pid in pids.items()}
        busy, total = machine_busy()

        async def sample() -> None:
            """Peak RSS each second, and the CPU used, while the load runs."""
            while (left := until - time.monotonic()) > 0:
                for name, pid in pids.items():
                    peak[name] = max(peak[name], rss_mb(pid))
                await asyncio.sleep(min(1.0, left))
            self.results.cpu = {name: cpu_seconds(pid) - cpu[name] for name, pid in pids.items()}
            busy_after, total_after = machine_busy()
            if total_after > total:
                self.results.machine = (busy_after - busy) / (total_after - total)

        await asyncio.gather(
            self.alerts(until),
            self.changes(until),
            sample(),
            *(self.person(number, until) for number in range(self.args.users)),
        )
        self.results.seconds = seconds
        self.results.drained = time.monotonic() - until
        for name, pid in pids.items():
            peak[name] = max(peak[name], rss_mb(pid))
        self.results.rss = dict(peak)
        return self.results


OPENED = re.compile(r"^lookout_database_connections_opened_total (\S+)$", re.M)


async def connections_opened(session: aiohttp.ClientSession, url: str) -> float:
    """The database connections a replica's pool opened so far (its /metrics)."""
    async with session.get(f"{url}/metrics") as response:
        found = OPENED.search(await response.text())
    return float(found[1]) if found else float("nan")


def report(setup: Setup, results: Results) -> None:
    ms = 1000
    print(
        f"\n{setup.name}: {results.seconds:.0f} s of load, "
        f"then {results.drained:.1f} s for the last answers"
    )
    for note in setup.notes:
        print(f"  ({note})")
    print(f"  {'endpoint':<32}{'requests':>9}{'per s':>8}{'p50 ms':>9}{'p99 ms':>9}")
    for endpoint in sorted(results.latencies):
        values = results.latencies[endpoint]
        print(
            f"  {endpoint:<32}{len(values):>9}{len(values) / results.seconds:>8.1f}"
            f"{percentile(values, 50) * ms:>9.1f}{percentile(values, 99) * ms:>9.1f}"
        )
    print(f"  commands answered/s: {results.answered / results.seconds:.1f}")
    if results.skipped:
        print(f"  skipped: {results.skipped} requests about an incident, before any card was seen")
    print(f"  errors: {sum(results.errors.values())}")
    for reason, count in results.errors.most_common(8):
        print(f"    {count:>5} × {reason}")
    print("  max RSS: " + ", ".join(f"{name} {mb:.0f} MB" for name, mb in results.rss.items()))
    print(
        "  database connections opened since start: "
        + ", ".join(f"{name} {count:.0f}" for name, count in results.connections.items())
    )
    print(
        "  CPU used (% of one core): "
        + ", ".join(
            f"{name} {100 * seconds / results.seconds:.0f} %"
            for name, seconds in results.cpu.items()
        )
        + f"; the whole machine was {100 * results.machine:.0f} % busy"
        " (PostgreSQL and other processes included)"
    )


async def measure(
    args: argparse.Namespace,
    setup_name: str,
    fake: FakeSlack,
    session: aiohttp.ClientSession,
    *,
    replicas: int,
    database_url: str | None,
    chroma: tuple[str, int] | None,
    notes: list[str],
) -> tuple[Setup, Results]:
    book = AnswerBook(fake)
    stop_book = asyncio.Event()
    book_task = asyncio.create_task(book.run(stop_book))
    try:
        async with running(
            setup_name,
            fake,
            session,
            replicas=replicas,
            database_url=database_url,
            chroma_url=chroma[0] if chroma else None,
        ) as servers:
            setup = Setup(setup_name, servers, notes=notes)
            pids = {server.name: server.process.pid for server in servers}
            if chroma:
                pids["chroma run"] = chroma[1]
            pids["load client (with the fake Slack)"] = os.getpid()
            urls = [server.url for server in servers]
            load = Load(args, fake, book, session, urls)
            await load.warm_up(urls)
            results = await load.run(args.seconds, pids)
            for server in servers:
                results.connections[server.name] = await connections_opened(session, server.url)
            report(setup, results)
            return setup, results
    finally:
        stop_book.set()
        await book_task


def slack_acks(results: Results) -> list[float]:
    return results.latencies.get("Slack ack", [])


async def run(args: argparse.Namespace) -> int:
    fake, fake_server, fake_task = await start_fake_slack()
    for person in range(args.users):
        user, name = user_of(person)
        fake.add_user(user, display_name=name)
    print(
        f"Load: {args.users} Slack users (each sends when answered), Alertmanager every "
        f"{args.alert_interval} s, changes every {args.change_interval} s; {os.cpu_count()} cores"
    )
    outcomes: list[tuple[Setup, Results]] = []
    timeout = aiohttp.ClientTimeout(total=60)
    connector = aiohttp.TCPConnector(limit=args.users + 10)
    try:
        async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
            if args.setup in ("sqlite", "both"):
                outcomes.append(
                    await measure(
                        args,
                        "(a) 1 replica, SQLite, embedded Chroma",
                        fake,
                        session,
                        replicas=1,
                        database_url=None,
                        chroma=None,
                        notes=[],
                    )
                )
            if args.setup in ("postgresql", "both"):
                folder = Path(tempfile.mkdtemp(prefix="lookout-load-chroma-"))
                try:
                    async with (
                        postgres_database() as url,
                        chroma_server(session, folder) as chroma,
                    ):
                        notes = (
                            ["Chroma: one `chroma run` server (LOOKOUT_CHROMA_URL)"]
                            if chroma
                            else ["no chroma CLI: each replica uses its embedded Chroma"]
                        )
                        outcomes.append(
                            await measure(
                                args,
                                f"(b) {args.replicas} replicas, one PostgreSQL database",
                                fake,
                                session,
                                replicas=args.replicas,
                                database_url=url,
                                chroma=chroma,
                                notes=notes,
                            )
                        )
                finally:
                    shutil.rmtree(folder, ignore_errors=True)
    finally:
        fake_server.should_exit = True
        await asyncio.wait_for(fake_task, timeout=10)
    verdicts(args, outcomes)
    return 0


def verdicts(args: argparse.Namespace, outcomes: list[tuple[Setup, Results]]) -> None:
    print("\nTargets")
    for setup, results in outcomes:
        errors = sum(results.errors.values())
        acks = slack_acks(results)
        ack = percentile(acks, 99) * 1000 if acks else float("nan")
        replicas = [
            mb for name, mb in results.rss.items() if name.startswith("replica")
        ]  # the servers only
        print(f"  {setup.name}")
        print(f"    {'PASS' if errors == 0 else 'FAIL'}  0 errors ({errors})")
        print(f"    {'PASS' if ack < 100 else 'FAIL'}  Slack ack p99 < 100 ms ({ack:.0f} ms)")
        print(
            f"    {'PASS' if max(replicas) < 400 else 'FAIL'}  RSS < 400 MB per replica "
            f"(max {max(replicas):.0f} MB)"
        )
    if len(outcomes) == 2:
        one, many = (results.answered / results.seconds for _, results in outcomes)
        ratio = many / one if one else float("nan")
        print(
            f"  {'PASS' if ratio >= 1.5 else 'FAIL'}  {args.replicas} replicas ≥ 1.5× one "
            f"replica's answered commands/s ({many:.1f} vs {one:.1f}: {ratio:.2f}×; "
            f"{os.cpu_count()} cores for servers, database, Chroma and this client)"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=60, help="per setup (default 60)")
    parser.add_argument("--users", type=int, default=20, help="concurrent Slack users")
    parser.add_argument("--replicas", type=int, default=3)
    parser.add_argument("--alert-interval", type=float, default=1.0, help="seconds")
    parser.add_argument("--change-interval", type=float, default=2.0, help="seconds")
    parser.add_argument("--think", type=float, default=0.0, help="max pause between commands")
    parser.add_argument("--setup", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--seed", type=int, default=7)
    return asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
