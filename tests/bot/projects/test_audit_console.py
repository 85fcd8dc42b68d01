"""`audit` through the console: admins see the entries of the projects they administer,
and only those; one team: admins see everything."""

from __future__ import annotations

from pathlib import Path

import yaml

from bot.settings import Settings
from tests.bot.projects.conftest import say, seed, words
from tests.bot.test_webhook import storm_payload
from tests.conftest import RunningServer, free_port, start_server


async def test_a_payments_admin_sees_payments_entries_and_not_platforms(
    teams_server: RunningServer,
) -> None:
    async with teams_server.client() as client:
        await seed(client)
        await say(client, "U0PAYDEV", "ack INC-1")
        await say(client, "U0PLAT", "ack INC-2", channel="#platform")
        responder = words(await say(client, "U0PAYDEV", "audit"))
        mine = words(await say(client, "U0PAYLEAD", "audit"))
        theirs = words(await say(client, "U0PLATLEAD", "audit", channel="#platform"))
        by_user = words(await say(client, "U0PAYLEAD", "audit --user U0PAYDEV --since 1d"))
        other_incident = words(await say(client, "U0PAYLEAD", "audit --incident INC-2"))
        bad = words(await say(client, "U0PAYLEAD", "audit --since yesterday"))
    # The payments admin: the payments ack and the delivery that opened INC-1.
    assert "Audit log" in mine and "in payments" in mine
    assert "U0PAYDEV" in mine and "ack" in mine and "INC-1" in mine
    assert "alertmanager" in mine and "webhook" in mine
    assert "denied" in mine  # the responder's refused `audit`: a payments entry too
    assert "U0PLAT" not in mine and "INC-2" not in mine
    # The platform owner: the platform side only.
    assert "U0PLAT" in theirs and "INC-2" in theirs
    assert "U0PAYDEV" not in theirs and "INC-1" not in theirs
    assert "U0PAYDEV" in by_user and "alertmanager" not in by_user
    assert other_incident.startswith("No audit entries")
    assert "needs the admin role in payments" in responder
    assert bad == "`--since yesterday` is neither a span (2h, 7d) nor a date (2026-11-01)."


async def test_role_changes_say_who_got_which_role_where(teams_server: RunningServer) -> None:
    async with teams_server.client() as client:
        await say(client, "U0PAYLEAD", "role U0NEW responder --project payments")
        shown = words(await say(client, "U0PAYLEAD", "audit --user U0PAYLEAD"))
    async with teams_server.lookout.database.unit_of_work() as uow:
        [grant] = await uow.audit.recent(action="role.grant")
    assert grant.user_id == "U0PAYLEAD" and grant.project == "payments"
    assert grant.detail["person"] == {"platform": "console", "user_id": "U0NEW"}
    assert (grant.detail["role"], grant.detail["project"]) == ("responder", "payments")
    assert "role.grant" in shown and "role" in shown


async def test_one_team_admins_see_every_entry(tmp_path: Path) -> None:
    config = tmp_path / "lookout.yaml"
    config.write_text(yaml.safe_dump({"access": {"admins": ["alice"]}}))
    settings = Settings(
        data_dir=tmp_path / "data", host="127.0.0.1", port=free_port(), config=config
    )
    server, task, running = await start_server(settings)
    try:
        async with running.client() as client:
            response = await client.post(
                "/webhooks/alertmanager", json=storm_payload(1, "checkout")
            )
            assert response.status_code == 200
            await say(client, "bob", "ack INC-1", channel="#incidents")
            shown = words(await say(client, "alice", "audit", channel="#incidents"))
            denied = words(await say(client, "bob", "audit", channel="#incidents"))
    finally:
        server.should_exit = True
        await task
    assert "bob" in shown and "ack" in shown and "alertmanager" in shown
    assert "config.load" in shown  # Lookout's own entries too
    assert (
        denied
        == "`audit` needs the admin role and you are a responder; ask a Lookout admin for access."
    )
