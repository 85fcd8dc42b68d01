"""Blast radius through the console's command API: an incident id where the service goes
means that incident, figures the catalog lacks are unknown (never 0), a chart comes along,
and no live tracker starts for a service nothing depends on."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot.settings import Settings
from tests.bot.console.test_api import command
from tests.bot.console.test_command_words import alert_payload
from tests.bot.test_webhook import wait_for_posts
from tests.conftest import RunningServer, free_port

CATALOG = {
    "services": [
        {"name": "postgres-primary", "tier": 1},
        {"name": "payments-api", "depends_on": ["postgres-primary"]},
        {"name": "checkout", "depends_on": ["payments-api"]},
        {"name": "mailer"},
    ]
}


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """The shared `server` fixture's settings, with the catalog as LOOKOUT_CONFIG."""
    config = tmp_path / "lookout.yaml"
    config.write_text(yaml.safe_dump(CATALOG))
    return Settings(data_dir=tmp_path / "data", host="127.0.0.1", port=free_port(), config=config)


async def test_blast_radius_of_an_incident_typed_where_the_service_goes(
    server: RunningServer,
) -> None:
    async with server.client() as client:
        for service in ("postgres-primary", "mailer"):
            response = await client.post(
                "/webhooks/alertmanager", json=alert_payload(service, "ServiceDown")
            )
            assert response.status_code == 200, response.text
        await wait_for_posts(server, 2)

        shown = await command(client, "blast-radius INC-1")
        text = shown["text"]
        assert "**Blast radius of postgres-primary** (INC-1)" in text
        assert "users and revenue unknown" in text and "0 users" not in text
        assert "0/h revenue" not in text
        assert any(block["type"] == "image" for block in shown["message"]["blocks"]), shown
        for typed in ("blast-radius #1", "blast-radius --incident INC-1"):
            again = await command(client, typed)
            assert "**Blast radius of postgres-primary** (INC-1)" in again["text"], typed
        missing = await command(client, "blast-radius INC-9")
        assert missing["text"] == "There is no incident INC-9."

        leaf = await command(client, "blast-radius INC-2")
        assert "Nothing in the catalog depends on mailer." in leaf["text"]
        assert "Live tracker" not in leaf["text"]
    async with server.lookout.database.unit_of_work() as uow:
        assert len(await uow.trackers.for_incident(incident_id=1)) == 1
        assert await uow.trackers.for_incident(incident_id=2) == []
