"""Several `lookout serve` processes on one PostgreSQL database and one Chroma server, with the
fake Slack Web API and fake paging receivers in the test process (they outlive any replica)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml
from sqlalchemy import text

from storage.database import Database
from tests.bot.slack.fake_slack import FakeSlack, start_fake_slack
from tests.conftest import free_port, fresh_postgres
from tests.integrations.fake_receivers import FakeReceivers, start_receivers

INCIDENTS_CHANNEL = "C0INCIDENTS"
REPORTS_CHANNEL = "C0REPORTS"
EXECUTABLES = ["/usr/bin/mktemp"]
LEVELS = ("ops", "later")  # the webhook each escalation level notifies, in order


def runbook(marks: Path) -> dict[str, Any]:
    """A runbook whose one step leaves a new file in `marks` each time it executes."""
    return {
        "name": "leave-a-mark",
        "title": "Leave a mark",
        "risk": "medium",
        "steps": [
            {
                "name": "Mark",
                "kind": "exec",
                "argv": ["/usr/bin/mktemp", "-p", str(marks), "run.XXXXXX"],
            }
        ],
    }


WAITS = {
    "name": "wait-a-while",
    "title": "Wait a while",
    "risk": "medium",
    "steps": [{"name": "Wait", "kind": "wait", "seconds": 600}],
}


def config(folder: Path, receivers: FakeReceivers, *, knowledge: bool) -> Path:
    """The replicas' shared LOOKOUT_CONFIG: incidents to Slack, a report every minute, one
    escalation of two levels (at once, then 5 s later) by signed webhooks, one runbook."""
    runbooks = folder / "runbooks"
    marks = folder / "marks"
    runbooks.mkdir()
    marks.mkdir()
    (runbooks / "leave-a-mark.yaml").write_text(yaml.safe_dump(runbook(marks)))
    (runbooks / "wait-a-while.yaml").write_text(yaml.safe_dump(WAITS))
    body = {
        "routing": {"default_channel": INCIDENTS_CHANNEL},
        "knowledge": {"enabled": knowledge},
        "runbooks": {
            "library": False,
            "directory": str(runbooks),
            "execution": {"executables": EXECUTABLES},
        },
        "schedules": [{"skill": "stats report", "channel": REPORTS_CHANNEL, "cron": "* * * * *"}],
        "escalation": {
            "check_seconds": 1,
            "policies": [
                {
                    "name": "default",
                    "match": {"severity": "critical"},
                    "levels": [
                        {"after": "0s", "notify": ["webhook:ops"]},
                        {"after": "5s", "notify": ["webhook:later"]},
                    ],
                }
            ],
        },
        "notify": {
            "webhooks": {
                name: {"url": receivers.hook_url(name), "secret": "s3cret"} for name in LEVELS
            }
        },
    }
    path = folder / "lookout.yaml"
    path.write_text(yaml.safe_dump(body))
    return path


@dataclass
class Replica:
    """One `lookout serve` process on its own port and data dir."""

    name: str
    port: int
    env: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "bot", "serve"],
                env=self.env,
                stdout=subprocess.DEVNULL,
                stderr=log,
            )

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()

    async def ready(self) -> None:
        async with httpx.AsyncClient(timeout=2) as client:
            for _ in range(1200):
                assert self.process is not None
                if self.process.poll() is not None:
                    tail = self.log.read_text()[-3000:]
                    raise AssertionError(
                        f"{self.name} exited with {self.process.returncode}: {tail}"
                    )
                try:
                    if (await client.get(f"{self.url}/readyz")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.05)
        raise AssertionError(f"{self.name} did not become ready")

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.url, timeout=30)


@dataclass
class Cluster:
    replicas: list[Replica]
    slack: FakeSlack
    receivers: FakeReceivers
    database: Database
    folder: Path
    accepted: set[str] = field(default_factory=set)

    async def rows(self, query: str, **params: Any) -> list[Any]:
        async with self.database.engine.connect() as connection:
            return list((await connection.execute(text(query), params)).all())

    async def scalar(self, query: str, **params: Any) -> Any:
        [row] = await self.rows(query, **params)
        return row[0]

    def root_posts(self) -> Counter[str]:
        """Slack root messages by the token each carries (one token per incident's row)."""
        return Counter(
            call.params["metadata"]["event_payload"]["intent"]
            for call in self.slack.calls_to("chat.postMessage")
            if "thread_ts" not in call.params
            and call.params.get("channel") == INCIDENTS_CHANNEL
            and call.params.get("metadata")
        )

    async def fired(
        self, level: str, count: int, within: float = 60, *, deduplicated: bool = False
    ) -> Counter[str]:
        """Escalation pages of one level by incident, once `count` incidents have theirs (and
        three more escalation checks have passed on every replica). `deduplicated` counts what
        a receiver that deduplicates on `X-Lookout-Delivery` acts on: a replica killed between
        sending and recording a page leaves it to be sent again (at least once, one key)."""
        for _ in range(int(within * 10)):
            if len(self._fired(level, deduplicated)) >= count:
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(3)
        return self._fired(level, deduplicated)

    def _fired(self, level: str, deduplicated: bool) -> Counter[str]:
        hooks = self.receivers.to(f"/hooks/{level}")
        if not deduplicated:
            return Counter(hook.json["incident"]["id"] for hook in hooks)
        deliveries = {hook.headers["x-lookout-delivery"]: hook.json for hook in hooks}
        return Counter(document["incident"]["id"] for document in deliveries.values())

    async def settled(self, within: float = 120) -> None:
        """Until every incident's Slack message is posted and shows its latest revision."""
        behind = -1
        for _ in range(int(within * 10)):
            behind = await self.scalar(
                "SELECT count(*) FROM incidents i LEFT JOIN chat_threads t "
                "ON t.incident_id = i.id AND t.platform = 'slack' "
                "WHERE t.message_id IS NULL OR t.rendered_revision < i.revision"
            )
            if behind == 0:
                return
            await asyncio.sleep(0.1)
        raise AssertionError(f"{behind} incident messages still behind")

    async def age_claims(self) -> None:
        """Rows a killed replica claimed wait a minute in case it still posts (a live replica
        would): age them, as that minute would."""
        async with self.database.engine.begin() as connection:
            for table in ("chat_threads", "chat_messages"):
                await connection.execute(
                    text(
                        f"UPDATE {table} SET updated_at = now() - interval '1 hour' "
                        "WHERE message_id IS NULL"
                    )
                )


@asynccontextmanager
async def cluster(
    folder: Path, *, size: int, chroma_url: str | None = None
) -> AsyncIterator[Cluster]:
    """`size` replicas, started together on a fresh PostgreSQL database (skips without one)."""
    async with AsyncExitStack() as stack:
        url = await stack.enter_async_context(fresh_postgres())
        slack, slack_server, slack_task = await start_fake_slack()

        async def stop_slack() -> None:
            slack_server.should_exit = True
            await asyncio.wait_for(slack_task, timeout=10)

        stack.push_async_callback(stop_slack)
        receivers, receivers_server, receivers_task = await start_receivers()

        async def stop_receivers() -> None:
            receivers_server.should_exit = True
            await asyncio.wait_for(receivers_task, timeout=10)

        stack.push_async_callback(stop_receivers)
        path = config(folder, receivers, knowledge=chroma_url is not None)
        base = {
            **os.environ,
            "LOOKOUT_DATABASE_URL": url,
            "LOOKOUT_CONFIG": str(path),
            "SLACK_BOT_TOKEN": "xoxb-test-token",
            "SLACK_SIGNING_SECRET": "secret",
            "SLACK_API_URL": slack.api_url,
            "ANONYMIZED_TELEMETRY": "False",
        }
        if chroma_url:
            base["LOOKOUT_CHROMA_URL"] = chroma_url
        replicas = []
        for number in range(size):
            port = free_port()
            env = {
                **base,
                "LOOKOUT_PORT": str(port),
                "LOOKOUT_DATA_DIR": str(folder / f"replica-{number}"),
            }
            replicas.append(
                Replica(f"replica-{number}", port, env, folder / f"replica-{number}.log")
            )
        for replica in replicas:
            stack.callback(replica.stop)
        for replica in replicas:
            replica.start()
        await asyncio.gather(*(replica.ready() for replica in replicas))
        database = Database(url)
        stack.push_async_callback(database.dispose)
        yield Cluster(replicas, slack, receivers, database, folder)
