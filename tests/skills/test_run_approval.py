"""Approvals expire: a run nobody approved in time cannot be approved later."""

from __future__ import annotations

import os
from pathlib import Path

import yaml

from runbooks.catalog import RunbookCatalog
from runbooks.config import ExecutionConfig
from runbooks.executor import Executor
from runbooks.loader import load_directory
from skills.catalog import default_registry
from skills.context import SkillTools
from skills.contract import Actor, Conversation
from skills.dispatcher import AccessPolicy, Dispatcher
from tests.skills.conftest import Harness, text_of

RUNBOOK = {
    "name": "echo-twice",
    "title": "Echo twice",
    "risk": "high",
    "policy": {"approval_timeout_minutes": 30},
    "steps": [{"name": "Echo", "kind": "exec", "argv": ["/bin/echo", "hi"]}],
}


async def test_an_approval_after_the_timeout_is_refused(harness: Harness, tmp_path: Path) -> None:
    (tmp_path / "echo.yaml").write_text(yaml.safe_dump(RUNBOOK))
    tools = SkillTools(
        runbooks=RunbookCatalog(library=load_directory(tmp_path)),
        planner=Executor(ExecutionConfig(executables=["/bin/echo"]), environ=os.environ),
    )
    dispatcher = Dispatcher(
        registry=default_registry(),
        database=harness.database,
        access=AccessPolicy(),
        clock=harness.clock,
        tools=tools,
    )

    async def say(text: str, user: str) -> str:
        actor = Actor(platform="test", user_id=user, display_name=user)
        reply = await dispatcher.run(text, actor=actor, conversation=Conversation("test", "#ops"))
        return text_of(reply)

    assert await say("run echo-twice", "alice") == (
        "R-1 · Echo twice, waiting for a second person to approve; progress in this conversation."
    )
    harness.clock.advance(minutes=31)
    assert await say("approve R-1", "bob") == (
        "R-1 waited too long for approval; ask for it again."
    )
    async with harness.database.unit_of_work() as uow:
        run = await uow.runs.get(run_id=1)
    assert run is not None and run.status == "expired"
    assert await say("approve R-1", "bob") == (
        "R-1 expired: nobody approved it in time; nothing is waiting for approval."
    )
