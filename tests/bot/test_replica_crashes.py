"""One of three replicas killed with SIGKILL again and again during a 5,000-alert storm while
the others keep serving: every alert that got a 200 is stored, each incident has one Slack
message, and what the killed replica had claimed (posts, escalation timers) a survivor
finishes."""

from __future__ import annotations

import asyncio
import itertools
import random
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from tests.bot.replica_cluster import LEVELS, Cluster, Replica, cluster
from tests.bot.test_replicas import batch

pytestmark = [pytest.mark.postgresql, pytest.mark.xdist_group("replica-crashes")]

ALERTS = 5000
BATCHES = ALERTS // 20
KILLS = 6
SENDERS = 6


async def send(
    cluster: Cluster, numbers: itertools.count[int], started: str, rng: random.Random
) -> None:
    """Deliver batches to replicas picked at random (a load balancer) until all are sent;
    a delivery that does not get a 200 goes again, to another pick, as Alertmanager retries."""
    async with httpx.AsyncClient(timeout=10) as client:
        for number in numbers:
            if number >= BATCHES:
                return
            body = batch(number, started)
            while True:
                replica = rng.choice(cluster.replicas)
                try:
                    response = await client.post(f"{replica.url}/webhooks/alertmanager", json=body)
                except httpx.TransportError:
                    await asyncio.sleep(0.05)
                    continue
                if response.status_code == 200:
                    cluster.accepted.update(a["labels"]["instance"] for a in body["alerts"])
                    break
                await asyncio.sleep(0.05)


async def kill_again_and_again(victim: Replica, rng: random.Random, done: asyncio.Event) -> int:
    """SIGKILL the victim, restart it, again; leave it dead at the end. Returns the kills."""
    kills = 0
    while kills < KILLS and not done.is_set():
        await asyncio.sleep(rng.uniform(0.5, 1.5))
        victim.kill()
        kills += 1
        if kills < KILLS:
            victim.start()
            await victim.ready()
    return kills


async def test_sigkill_of_one_replica_during_a_storm_loses_nothing_and_posts_once(
    tmp_path: Path,
) -> None:
    async with cluster(tmp_path, size=3) as running:
        rng = random.Random(11)
        victim = running.replicas[0]
        numbers = itertools.count()
        started = datetime.now(UTC).isoformat()
        done = asyncio.Event()
        killer = asyncio.create_task(kill_again_and_again(victim, rng, done))
        senders = [
            asyncio.create_task(send(running, numbers, started, random.Random(n)))
            for n in range(SENDERS)
        ]
        await asyncio.gather(*senders)
        done.set()
        kills = await killer
        if victim.process is not None and victim.process.poll() is None:
            victim.kill()
        survivors = running.replicas[1:]
        running.replicas = survivors  # only the survivors from here on
        await running.age_claims()
        await running.settled(within=180)

        stored = {row[0] for row in await running.rows("SELECT labels->>'instance' FROM alerts")}
        assert kills >= 2
        assert len(running.accepted) == ALERTS
        assert running.accepted <= stored, f"lost: {sorted(running.accepted - stored)[:5]}"
        incidents = [row[0] for row in await running.rows("SELECT id FROM incidents")]
        assert len(incidents) == BATCHES
        threads = dict(
            await running.rows("SELECT incident_id, id FROM chat_threads WHERE platform = 'slack'")
        )
        assert set(threads) == set(incidents)
        posts = running.root_posts()
        assert set(posts) == {f"lookout:slack:incident:{row}" for row in threads.values()}
        assert max(posts.values()) == 1, posts.most_common(3)
        # Every incident's escalation levels fired once, whoever held its timer when killed: a
        # page the killed replica sent but had not recorded goes again under the same delivery
        # key, so a receiver deduplicating on it acts once.
        expected = {f"INC-{incident}" for incident in incidents}
        for level in LEVELS:
            fired = await running.fired(level, BATCHES, deduplicated=True)
            assert set(fired) == expected, level
            assert set(fired.values()) == {1}, (level, fired.most_common(3))
