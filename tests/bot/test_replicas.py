"""Three `lookout serve` replicas on one PostgreSQL database and one Chroma server: whatever
reaches all of them, or two of them at once, happens once — incidents, their Slack messages,
acks, scheduled reports, escalation levels, runbook runs — and every replica answers alike."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
import pytest_asyncio

from tests.bot.replica_cluster import LEVELS, REPORTS_CHANNEL, Cluster, cluster
from tests.bot.slack.conftest import signed_headers
from tests.knowledge.conftest import chroma_server

__all__ = ["chroma_server"]

pytestmark = [
    pytest.mark.postgresql,
    pytest.mark.xdist_group("replicas"),
    pytest.mark.asyncio(loop_scope="module"),
]

BATCHES = 30


def batch(number: int, started: str) -> dict[str, Any]:
    """Twenty alerts of one new service, as one Alertmanager delivery."""
    service = f"svc-{number}"
    return {
        "version": "4",
        "groupKey": f'{{}}:{{service="{service}"}}',
        "status": "firing",
        "receiver": "lookout",
        "alerts": [
            {
                "status": "firing",
                "labels": {
                    "alertname": f"Alert{i % 4}",
                    "service": service,
                    "instance": f"host-{number}-{i}",
                    "severity": "critical",
                },
                "annotations": {"summary": f"batch {number} alert {i}"},
                "startsAt": started,
                "endsAt": "0001-01-01T00:00:00Z",
            }
            for i in range(20)
        ],
    }


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def three(
    tmp_path_factory: pytest.TempPathFactory, chroma_server: str
) -> AsyncIterator[Cluster]:
    folder = tmp_path_factory.mktemp("replicas")
    async with cluster(folder, size=3, chroma_url=chroma_server) as running:
        # The same storm reaches every replica at once, as Alertmanager HA peers deliver it.
        started = datetime.now(UTC).isoformat()
        clients = [replica.client() for replica in running.replicas]
        try:
            for number in range(BATCHES):
                body = batch(number, started)
                answers = await asyncio.gather(
                    *(client.post("/webhooks/alertmanager", json=body) for client in clients)
                )
                assert [a.status_code for a in answers] == [200, 200, 200], answers[0].text
        finally:
            for client in clients:
                await client.aclose()
        await running.settled()
        yield running


async def say(client: httpx.AsyncClient, text: str, user: str = "alice") -> dict[str, Any]:
    response = await client.post("/console/api/command", json={"text": text, "user": user})
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def test_a_storm_delivered_to_every_replica_makes_each_incident_once(
    three: Cluster,
) -> None:
    assert await three.scalar("SELECT count(*) FROM alerts") == BATCHES * 20
    per_service = await three.rows(
        "SELECT labels->>'service', count(DISTINCT incident_id) FROM alerts GROUP BY 1"
    )
    assert len(per_service) == BATCHES and {count for _, count in per_service} == {1}
    assert await three.scalar("SELECT count(*) FROM incidents") == BATCHES
    threads = [
        row[0] for row in await three.rows("SELECT id FROM chat_threads WHERE platform = 'slack'")
    ]
    posts = three.root_posts()
    assert set(posts) == {f"lookout:slack:incident:{row}" for row in threads}
    assert max(posts.values()) == 1, posts.most_common(3)


async def test_each_escalation_level_fires_once_across_replicas(three: Cluster) -> None:
    for level in LEVELS:
        fired = await three.fired(level, BATCHES)
        assert len(fired) == BATCHES and set(fired.values()) == {1}, (level, fired.most_common(3))


async def test_concurrent_acks_on_two_replicas_make_one_ack(three: Cluster) -> None:
    first, second = three.replicas[0].client(), three.replicas[1].client()
    async with first, second:
        answers = await asyncio.gather(
            say(first, "/lookout ack INC-3", user="alice"),
            say(second, "/lookout ack INC-3", user="bob"),
        )
    texts = sorted(answer["text"] for answer in answers)
    assert sum("acknowledged by" in t and "already" not in t for t in texts) == 1, texts
    assert sum("was already acknowledged by" in t for t in texts) == 1, texts
    events = await three.scalar(
        "SELECT count(*) FROM incident_events WHERE incident_id = 3 AND kind = 'acknowledged'"
    )
    assert events == 1


def click(command: str, *, channel: str, message_ts: str) -> bytes:
    """A Block Kit button click on an incident's message (Slack's block_actions payload)."""
    payload = {
        "type": "block_actions",
        "user": {"id": "W0CLICK", "username": "clicker", "team_id": "T111"},
        "api_app_id": "A111",
        "container": {"type": "message", "message_ts": message_ts, "channel_id": channel},
        "trigger_id": "click.replayed",
        "team": {"id": "T111", "domain": "workspace"},
        "channel": {"id": channel, "name": "incidents"},
        "message": {"ts": message_ts, "type": "message", "text": "incident"},
        "response_url": "https://hooks.slack.com/actions/T111/1/x",
        "actions": [
            {
                "action_id": "lookout:0:show",
                "block_id": "b",
                "type": "button",
                "value": json.dumps({"command": command}),
                "action_ts": "1700000000.000001",
            }
        ],
    }
    return urlencode({"payload": json.dumps(payload)}).encode()


async def test_a_click_replayed_to_another_replica_is_answered_once(three: Cluster) -> None:
    """One signed request sent to two replicas (replayed, or retried elsewhere by a proxy):
    each acknowledges it, and it runs once — the signature is claimed in the database."""
    channel, ts = (
        await three.rows(
            "SELECT channel, thread_id FROM chat_threads WHERE platform = 'slack' "
            "AND incident_id = 6"
        )
    )[0]

    def answers() -> int:
        return sum(
            1
            for call in three.slack.calls_to("chat.postMessage")
            if call.params.get("thread_ts") == ts and "INC-6" in str(call.params.get("text"))
        )

    before = answers()
    body = click("show INC-6", channel=channel, message_ts=ts)
    headers = signed_headers(body, secret="secret")
    first, second = three.replicas[0].client(), three.replicas[1].client()
    async with first, second:
        statuses = await asyncio.gather(
            first.post("/slack/events", content=body, headers=headers),
            second.post("/slack/events", content=body, headers=headers),
        )
    assert [response.status_code for response in statuses] == [200, 200]
    await three.slack.wait_until(lambda: answers() > before, within=30)
    await asyncio.sleep(3)  # the second replica's task has long decided by now
    assert answers() == before + 1


async def test_every_replica_answers_alike(three: Cluster) -> None:
    answers = []
    for replica in three.replicas:
        async with replica.client() as client:
            answers.append(await say(client, "/lookout show INC-5"))
            messages = await client.get("/console/api/messages", params={"channel": "#incidents"})
            assert messages.status_code == 200
    # Alike but for how long ago things were: the replicas answered seconds apart.
    shown = [
        re.sub(
            r"(\ue100\d+)\|\d+\|",  # a time span's "now", when the replica rendered it
            r"\1|now|",
            re.sub(
                r"\b\d+ (s|min|h)\b",
                r"N \1",
                json.dumps(a["message"]["blocks"], ensure_ascii=False),
            ),
        )
        for a in answers
    ]
    assert shown[0] == shown[1] == shown[2]


async def test_a_runbook_run_approved_on_two_replicas_executes_once(three: Cluster) -> None:
    async with three.replicas[0].client() as client:
        planned = await say(client, "/lookout run leave-a-mark --incident INC-7")
    assert planned["text"].startswith("R-1 · Leave a mark, waiting"), planned["text"]
    first, second = three.replicas[1].client(), three.replicas[2].client()
    async with first, second:
        approvals = await asyncio.gather(
            say(first, "/lookout approve R-1", user="bob"),
            say(second, "/lookout approve R-1", user="carol"),
        )
    assert sum(a["text"] == "Approved R-1 — starting." for a in approvals) == 1, approvals
    for _ in range(200):
        status = await three.scalar("SELECT status FROM runbook_runs WHERE id = 1")
        if status not in ("approved", "running", "awaiting_approval"):
            break
        await asyncio.sleep(0.1)
    assert status == "succeeded"
    await asyncio.sleep(2)  # time for a second execution, were there one
    assert len(list((three.folder / "marks").iterdir())) == 1


async def test_a_replica_that_restarts_leaves_another_replicas_run_alone(
    three: Cluster,
) -> None:
    """A starting replica cannot tell a run another replica executes from one cut short by
    its own stop: it must go by the executing process's heartbeat."""
    async with three.replicas[1].client() as client:
        planned = await say(client, "/lookout run wait-a-while --incident INC-8")
        ref = planned["text"].split(" ")[0]
        run_id = int(ref.removeprefix("R-"))
        approved = await say(client, f"/lookout approve {ref}", user="bob")
    assert approved["text"] == f"Approved {ref} — starting.", approved
    restarted = three.replicas[0]
    restarted.stop()
    restarted.start()
    await restarted.ready()  # its start has looked at the runs under way
    status = await three.scalar("SELECT status FROM runbook_runs WHERE id = :id", id=run_id)
    assert status == "running"
    async with three.replicas[2].client() as client:  # cancelled on a third replica
        await say(client, f"/lookout cancel {ref}", user="bob")
    for _ in range(300):
        status = await three.scalar("SELECT status FROM runbook_runs WHERE id = :id", id=run_id)
        if status != "running":
            break
        await asyncio.sleep(0.1)
    assert status == "cancelled"
    outcomes = await three.rows(
        "SELECT text FROM incident_events WHERE incident_id = 8 AND kind = 'runbook'"
    )
    assert not any("interrupted" in row[0] for row in outcomes), outcomes


async def test_a_scheduled_report_posts_once(three: Cluster) -> None:
    """Every replica's scheduler finds the minute's report due; one runs it, posted once."""
    for _ in range(900):
        runs = await three.rows(
            "SELECT scheduled_for FROM scheduled_runs WHERE finished_at IS NOT NULL "
            "AND reply IS NOT NULL"
        )
        if runs:
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError("no scheduled report ran within 90 s")
    await three.slack.wait_until(
        lambda: any(
            c.params.get("channel") == REPORTS_CHANNEL
            for c in three.slack.calls_to("chat.postMessage")
        ),
        within=30,
    )
    await asyncio.sleep(3)
    runs = await three.rows("SELECT job, scheduled_for FROM scheduled_runs WHERE reply IS NOT NULL")
    posts = [
        c
        for c in three.slack.calls_to("chat.postMessage")
        if c.params.get("channel") == REPORTS_CHANNEL
    ]
    assert len(posts) == len(runs), (runs, [p.params.get("text") for p in posts])
