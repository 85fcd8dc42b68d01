"""`explain` and `ask` with an LLM: the command answers at once from the evidence, the
written answer follows (checked) without holding any transaction, and a proposed command is
shown, never run."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.background.knowledge import AnswerWriter
from bot.metrics import Metrics
from knowledge.llm import LLMClient
from skills.views.knowledge_cards import answer_message
from tests.knowledge.conftest import KnowledgeHarness
from tests.knowledge.fakes import fake_openai
from tests.knowledge.test_knowledge_skills import buttons, history
from tests.skills.conftest import make_alert, text_of


async def test_explain_with_an_llm_answers_first_then_writes(
    kharness: KnowledgeHarness, tmp_path: Path
) -> None:
    canary = tmp_path / "canary"
    await history(kharness)
    await kharness.ingestor.ingest([make_alert("HighErrorRate", "checkout", minutes=600)])
    async with fake_openai() as server:
        server.answer = (
            "Checkout errors again, as in [INC-1], where a rollback fixed it "
            "[runbook:rollback-kubernetes-deployment, INC-77]. Try:\n"
            f"```\nkubectl rollout undo deploy/checkout && touch {canary}\n```\nConfidence: medium"
        )
        llm = LLMClient(model="fake-llm", base_url=server.url, api_key="k", timeout=5)
        kharness.knowledge.llm = llm
        writer = AnswerWriter(
            kharness.database, kharness.knowledge, on_change=lambda: None, metrics=Metrics()
        )
        try:
            reply = await kharness.say("explain INC-4")
            assert "fake-llm is writing a fuller answer" in text_of(reply)
            assert kharness.outcomes[-1].answers_requested
            assert await writer.run_once() == 1
        finally:
            await llm.close()
            kharness.knowledge.llm = None
    async with kharness.database.unit_of_work() as uow:
        answer = await uow.knowledge.answer(answer_id=1)
    assert answer is not None and answer.status == "answered"
    assert answer.detail["removed_citations"] == ["INC-77"]
    assert answer.detail["llm_confidence"] == "medium"
    # The evidence the model saw names the incident and its neighbours.
    prompt = server.requests[0]["body"]["messages"][1]["content"]
    assert "[INC-4]" in prompt and "[INC-1]" in prompt
    message = answer_message(answer)
    text = text_of(message)
    assert "INC-77" not in (answer.text or "") and "Removed 1 citation" in text
    assert "shown, not run" in text
    assert "run rollback-kubernetes-deployment --dry-run" in buttons(message)
    assert not canary.exists()
    async with kharness.database.unit_of_work() as uow:
        assert await uow.runs.recent() == []  # nothing was started either


async def test_a_timeout_leaves_the_evidence_answer_standing(kharness: KnowledgeHarness) -> None:
    await history(kharness)
    async with fake_openai() as server:
        server.delay = 2
        llm = LLMClient(model="slow-llm", base_url=server.url, api_key="k", timeout=0.2)
        kharness.knowledge.llm = llm
        writer = AnswerWriter(
            kharness.database, kharness.knowledge, on_change=lambda: None, metrics=Metrics()
        )
        try:
            reply = await kharness.say("ask how did we fix the checkout errors?")
            assert "rolled back checkout v2.31" in text_of(reply)
            assert await writer.run_once() == 1
        finally:
            await llm.close()
            kharness.knowledge.llm = None
    async with kharness.database.unit_of_work() as uow:
        answer = await uow.knowledge.answer(answer_id=1)
    assert answer is not None and answer.status == "failed"
    assert "did not answer within 0.2 s" in text_of(answer_message(answer))


async def test_an_answer_cut_short_by_a_restart_is_written_again(
    kharness: KnowledgeHarness,
) -> None:
    await history(kharness)
    async with fake_openai() as server:
        server.answer = "Rolled back then [INC-1].\nConfidence: high"
        llm = LLMClient(model="fake-llm", base_url=server.url, api_key="k")
        kharness.knowledge.llm = llm
        writer = AnswerWriter(
            kharness.database, kharness.knowledge, on_change=lambda: None, metrics=Metrics()
        )
        try:
            await kharness.say("ask how did we fix the checkout errors?")
            async with kharness.database.unit_of_work() as uow:
                row = await uow.knowledge.answer(answer_id=1)
                assert row is not None
                row.status = "writing"  # the process stopped while the model was writing
                since = datetime.now(UTC) - timedelta(minutes=10)
                row.detail = {**row.detail, "writing_since": since.isoformat()}
            if kharness.database.is_sqlite:  # one process: its restart takes the answer back
                assert await writer.run_once() == 0
                await writer.recover()
            # Replicas: any pass takes over a claim older than the writing lease.
            assert await writer.run_once() == 1
        finally:
            await llm.close()
            kharness.knowledge.llm = None
    async with kharness.database.unit_of_work() as uow:
        answer = await uow.knowledge.answer(answer_id=1)
    assert answer is not None and answer.status == "answered"
    assert answer.text == "Rolled back then [INC-1]."
