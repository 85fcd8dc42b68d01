"""Two teams on one Lookout: payments and platform, as the README's projects example."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from bot.settings import Settings
from tests.bot.test_webhook import storm_payload
from tests.conftest import RunningServer, free_port, start_server

PROJECTS: dict[str, Any] = {
    "projects": [
        {
            "name": "payments",
            "services": ["checkout", "payments"],
            "channels": {"slack": "C0PAY", "teams": "19:pay@thread.tacv2", "console": "#payments"},
            "members": {"U0PAYLEAD": "admin", "U0PAYDEV": "responder", "*": "viewer"},
        },
        {
            "name": "platform",
            "services": ["postgres-primary"],
            "channels": {"slack": "C0PLAT", "console": "#platform"},
            "members": {"U0PLAT": "responder", "U0PLATLEAD": "owner"},
        },
    ],
    "access": {"default_role": "viewer"},
}


def write_config(folder: Path, extra: dict[str, Any] | None = None) -> Path:
    path = folder / "lookout.yaml"
    path.write_text(yaml.safe_dump({**PROJECTS, **(extra or {})}))
    return path


@pytest.fixture
async def teams_server(tmp_path: Path) -> AsyncIterator[RunningServer]:
    """Lookout on loopback with the two projects configured."""
    settings = Settings(
        data_dir=tmp_path / "data",
        host="127.0.0.1",
        port=free_port(),
        config=write_config(tmp_path),
    )
    server, task, running = await start_server(settings)
    try:
        yield running
    finally:
        server.should_exit = True
        await task


async def say(
    client: httpx.AsyncClient, user: str, text: str, channel: str = "#payments"
) -> dict[str, Any]:
    """A console command as `user` in `channel`; the answer's JSON."""
    response = await client.post(
        "/console/api/command", json={"text": text, "user": user, "channel": channel}
    )
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def words(answer: dict[str, Any]) -> str:
    """Everything an answer says, as one string."""
    message = answer.get("message") or {}
    return " ".join(_texts(answer.get("blocks") or message.get("blocks") or [])).replace("**", "")


def _texts(value: Any) -> list[str]:
    """Every string in a rendered block tree, in order (keys and types left out)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [text for key, item in value.items() if key != "type" for text in _texts(item)]
    if isinstance(value, list):
        return [text for item in value for text in _texts(item)]
    return []


async def seed(client: httpx.AsyncClient) -> None:
    """INC-1 on checkout (payments), INC-2 on postgres-primary (platform)."""
    for service in ("checkout", "postgres-primary"):
        response = await client.post("/webhooks/alertmanager", json=storm_payload(1, service))
        assert response.status_code == 200, response.text
