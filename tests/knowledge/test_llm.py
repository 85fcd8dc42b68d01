"""The LLM path against a fake OpenAI-compatible server over real HTTP: a normal answer, a
timeout, an invented citation, and an answer proposing a shell command that nothing runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from knowledge.llm import Evidence, LLMClient, LLMError, check_citations, find_commands
from tests.knowledge.fakes import fake_openai

EVIDENCE = [
    Evidence("INC-7", "postgres-primary: PostgresConnectionsExhausted", "failed over to pg-1"),
    Evidence("runbook:failover-postgresql-replica", "Fail over PostgreSQL", "patronictl"),
]


async def test_a_normal_answer_keeps_its_citations_and_confidence() -> None:
    async with fake_openai() as server:
        server.answer = (
            "The primary ran out of connection slots, as in [INC-7]. Failing over fixed it "
            "then [runbook:failover-postgresql-replica].\nConfidence: high"
        )
        client = LLMClient(model="test-model", base_url=server.url, api_key="sk-test")
        try:
            answer = await client.write(
                task="explain", question="What is wrong?", evidence=EVIDENCE
            )
        finally:
            await client.close()
    assert answer.confidence == "high"
    assert answer.cited == ("INC-7", "runbook:failover-postgresql-replica")
    assert answer.removed_citations == () and "Confidence" not in answer.text
    request = server.requests[0]
    assert request["auth"] == "Bearer sk-test"
    assert request["body"]["model"] == "test-model"
    prompt = request["body"]["messages"][1]["content"]
    assert "[INC-7]" in prompt and "[runbook:failover-postgresql-replica]" in prompt


async def test_a_slow_llm_times_out_with_a_reason() -> None:
    async with fake_openai() as server:
        server.delay = 2.0
        client = LLMClient(model="m", base_url=server.url, api_key="k", timeout=0.3)
        try:
            with pytest.raises(LLMError, match=r"did not answer within 0.3 s"):
                await client.write(task="ask", question="q", evidence=EVIDENCE)
        finally:
            await client.close()


async def test_a_server_error_fails_soft() -> None:
    async with fake_openai() as server:
        server.status = 503
        client = LLMClient(model="m", base_url=server.url, api_key="k")
        try:
            with pytest.raises(LLMError, match="HTTP 503"):
                await client.write(task="ask", question="q", evidence=EVIDENCE)
        finally:
            await client.close()


async def test_an_invented_citation_is_removed() -> None:
    async with fake_openai() as server:
        server.answer = (
            "This matches [INC-7] and [INC-999]. See also [runbook:reboot-everything, INC-7] "
            "and the [docs](https://example.com).\nConfidence: medium"
        )
        client = LLMClient(model="m", base_url=server.url, api_key="k")
        try:
            answer = await client.write(task="ask", question="q", evidence=EVIDENCE)
        finally:
            await client.close()
    assert "INC-999" not in answer.text and "reboot-everything" not in answer.text
    assert answer.text.startswith("This matches [INC-7]. See also [INC-7]")
    assert "[docs](https://example.com)" in answer.text  # a Markdown link is not a citation
    assert answer.removed_citations == ("INC-999", "runbook:reboot-everything")


async def test_an_answer_with_a_shell_command_runs_nothing(tmp_path: Path) -> None:
    canary = tmp_path / "canary"
    async with fake_openai() as server:
        server.answer = (
            "Restart it [INC-7]:\n```sh\n"
            f"sudo systemctl restart postgresql && touch {canary}\n```\n"
            f"or `rm -rf /var/lib/postgresql/wal` [INC-7].\nConfidence: low"
        )
        client = LLMClient(model="m", base_url=server.url, api_key="k")
        try:
            answer = await client.write(task="ask", question="q", evidence=EVIDENCE)
        finally:
            await client.close()
    assert answer.commands == (
        f"sudo systemctl restart postgresql && touch {canary}",
        "rm -rf /var/lib/postgresql/wal",
    )
    assert not canary.exists()


def test_citation_checking_and_command_finding_without_a_server() -> None:
    text, kept, removed = check_citations("A [inc-7]. B [INC-8].", ["INC-7"])
    assert (text, kept, removed) == ("A [INC-7]. B.", ["INC-7"], ["INC-8"])
    assert find_commands("no commands here, just kubectl as a word") == []
    assert find_commands("$ kubectl rollout undo deploy/checkout") == [
        "$ kubectl rollout undo deploy/checkout"
    ]
