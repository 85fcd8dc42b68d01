"""Projects through the real botbuilder stack: roles by Azure AD group (Microsoft Graph's
checkMemberGroups, faked on loopback), and a channel of one project."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.bot.teams.conftest import APP_ID, APP_PASSWORD, CHANNEL, TENANT, TeamsWorld
from tests.bot.teams.fakes import FakeGraph
from tests.bot.test_webhook import storm_payload

ONCALL = "0f3a8c2e-5b1d-4e6f-9a7b-1c2d3e4f5a6b"  # an Azure AD group's object id
IN_GROUP = "6b703ce3-6d14-4fe6-b90c-dc5f03657ae4"  # the recording's sender
NOT_IN_GROUP = "11111111-2222-3333-4444-555555555555"


@pytest.fixture
def graph() -> Iterator[FakeGraph]:
    fake = FakeGraph(app_id=APP_ID, app_password=APP_PASSWORD, tenant=TENANT)
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()


def said_by(teams: TeamsWorld, aad_object_id: str, text: str) -> dict[str, Any]:
    activity = teams.activity(
        "01_channel_message_at_mention.json", text=f"<at>My Combined</at> {text}"
    )
    activity["from"] = {**activity["from"], "aadObjectId": aad_object_id}
    return activity


async def test_an_azure_ad_groups_role_in_its_project(teams: TeamsWorld, graph: FakeGraph) -> None:
    graph.members[ONCALL] = {IN_GROUP}
    teams.extra_config = {
        "projects": [
            {
                "name": "payments",
                "services": ["checkout"],
                "channels": {"teams": CHANNEL},
                "members": {"*": "viewer"},
                "groups": {ONCALL: "responder", "payments-oncall": "admin"},
            }
        ]
    }
    running = await teams.start(teams_graph_url=graph.url, teams_login_url=graph.url)
    await teams.alert(storm_payload(1, "checkout"))
    refused = await teams.send(said_by(teams, NOT_IN_GROUP, "ack INC-1"))
    assert refused.status_code == 200, refused.text
    acked = await teams.send(said_by(teams, IN_GROUP, "ack INC-1"))
    assert acked.status_code == 200, acked.text
    again = await teams.send(said_by(teams, IN_GROUP, "note INC-1 looking"))
    assert again.status_code == 200, again.text
    texts = [text for request in teams.connector.requests for text in request.texts]
    assert any("needs the responder role in payments" in text for text in texts), texts
    assert any("acknowledged by" in text for text in texts), texts
    # Only the group ids that are Azure AD's are asked, once per person (kept 5 min).
    assert graph.checks == [(NOT_IN_GROUP, [ONCALL]), (IN_GROUP, [ONCALL])]
    assert len(graph.tokens) == 1
    async with running.lookout.database.unit_of_work() as uow:
        row = await uow.incidents.get(incident_id=1)
    assert row is not None and row.status == "acknowledged"
