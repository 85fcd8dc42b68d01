"""Projects through the console: where alerts land, who may do what where, `whoami`,
`project use` and `role`."""

from __future__ import annotations

import pytest

from bot.background.scheduled_work import SCHEDULER_ACTOR
from skills.contract import Conversation, Table
from tests.bot.projects.conftest import say, seed, words
from tests.bot.test_change_webhooks import alert_body, deploy
from tests.conftest import RunningServer


async def incident_projects(server: RunningServer) -> dict[int, str]:
    async with server.lookout.database.unit_of_work() as uow:
        rows = await uow.incidents.find(status="all")
    return {row.id: row.project for row in rows}


async def test_alerts_belong_to_their_services_project_and_post_in_its_channel(
    teams_server: RunningServer,
) -> None:
    async with teams_server.client() as client:
        await seed(client)
        labelled = {
            "version": "4",
            "status": "firing",
            "alerts": [
                {
                    "status": "firing",
                    "labels": {"alertname": "DiskFull", "service": "search", "project": "platform"},
                    "startsAt": "2026-12-01T00:00:00Z",
                },
                {
                    "status": "firing",
                    "labels": {"alertname": "Orphan", "service": "nobody-owns-this"},
                    "startsAt": "2026-12-01T00:00:00Z",
                },
            ],
        }
        assert (await client.post("/webhooks/alertmanager", json=labelled)).status_code == 200
        await teams_server.lookout.notifier.flush()
        payments = (await client.get("/console/api/messages?channel=%23payments")).json()
        platform = (await client.get("/console/api/messages?channel=%23platform")).json()
        default = (await client.get("/console/api/messages?channel=%23incidents")).json()
    assert await incident_projects(teams_server) == {
        1: "payments",
        2: "platform",
        3: "platform",  # the label names a project: it wins over the service's
        4: "default",
    }
    assert [m["incident_id"] for m in payments] == [1]
    assert sorted(m["incident_id"] for m in platform) == [2, 3]
    assert [m["incident_id"] for m in default] == [4]


async def test_same_alerts_of_two_projects_never_join_one_incident(
    teams_server: RunningServer,
) -> None:
    alert = {"alertname": "HighLatency", "cluster": "eu-1", "severity": "critical"}
    payload = {
        "version": "4",
        "groupKey": '{}:{alertname="HighLatency"}',
        "groupLabels": {"alertname": "HighLatency"},
        "status": "firing",
        "alerts": [
            {"status": "firing", "labels": {**alert, "service": service}, "startsAt": at}
            for service, at in (
                ("checkout", "2026-12-01T00:00:00Z"),
                ("postgres-primary", "2026-12-01T00:00:10Z"),
            )
        ],
    }
    async with teams_server.client() as client:
        assert (await client.post("/webhooks/alertmanager", json=payload)).status_code == 200
    assert await incident_projects(teams_server) == {1: "payments", 2: "platform"}


async def test_roles_are_per_project_and_checked_for_the_incident_acted_on(
    teams_server: RunningServer,
) -> None:
    async with teams_server.client() as client:
        await seed(client)
        # A payments responder acks payments' incident, from anywhere.
        acked = await say(client, "U0PAYDEV", "ack INC-1", channel="#platform")
        assert "acknowledged by U0PAYDEV" in words(acked)
        # Platform's incident does not exist for them: not even its existence leaks.
        for command in ("ack INC-2", "show INC-2", "resolve INC-2 done", "note INC-2 hi"):
            refused = await say(client, "U0PAYDEV", command)
            assert words(refused) == "There is no incident INC-2.", command
        # Everyone is a viewer of payments: they see INC-1 but may not act on it.
        looked = await say(client, "U0STRANGER", "show INC-1")
        assert "INC-1" in words(looked)
        denied = await say(client, "U0STRANGER", "resolve INC-1 fixed")
        assert words(denied) == (
            "`resolve` needs the responder role in payments and you are a viewer there; "
            "ask an admin of payments for access."
        )
        # Platform's channel is platform's: a stranger is not a member there.
        outside = await say(client, "U0STRANGER", "incidents", channel="#platform")
        assert "not a member of the platform project" in words(outside)
        # Lists show only the projects one is in.
        listed = words(await say(client, "U0PAYDEV", "incidents"))
        assert "INC-1" in listed and "INC-2" not in listed
        listed = words(await say(client, "U0PLAT", "incidents", channel="#platform"))
        assert "INC-2" in listed and "INC-1" in listed  # everyone may view payments
    async with teams_server.lookout.database.unit_of_work() as uow:
        row = await uow.incidents.get(incident_id=2)
        audit = await uow.audit.recent(limit=50)
    assert row is not None and row.status == "triggered"
    projects = {(entry.user_id, entry.action, entry.outcome): entry.project for entry in audit}
    assert projects[("U0PAYDEV", "ack", "ok")] == "payments"


async def test_whoami_project_use_and_role(teams_server: RunningServer) -> None:
    async with teams_server.client() as client:
        await seed(client)
        me = words(await say(client, "U0PAYLEAD", "whoami", channel="@U0PAYLEAD"))
        assert "Project here payments" in me and "payments (admin)" in me
        # A direct message acts in one's default project; `project use` switches it.
        chosen = await say(client, "U0PAYDEV", "project use platform", channel="@dm")
        assert (
            words(chosen) == "You are not a member of platform; an admin of platform can add you."
        )
        chosen = await say(client, "U0PLATLEAD", "project use payments", channel="@dm")
        assert words(chosen) == "Your direct messages now act in payments."
        viewer = await say(client, "U0PLATLEAD", "ack INC-1", channel="@dm")
        assert "needs the responder role in payments" in words(viewer)
        # A payments admin makes the platform lead a payments responder.
        granted = await say(client, "U0PAYLEAD", "role U0PLATLEAD responder")
        assert words(granted) == "🔑 U0PLATLEAD is now responder in payments."
        too_high = await say(client, "U0PAYLEAD", "role U0PAYDEV owner")
        assert words(too_high) == "You are admin in payments; you cannot give the owner role."
        acked = await say(client, "U0PLATLEAD", "ack INC-1", channel="@dm")
        assert "acknowledged by U0PLATLEAD" in words(acked)
        # A responder cannot give roles.
        refused = await say(client, "U0PAYDEV", "role U0STRANGER admin")
        assert "needs the admin role in payments" in words(refused)
        # Help lists only what one may run.
        viewer_help = words(await say(client, "U0STRANGER", "help"))
        assert "/lookout incidents" in viewer_help and "/lookout ack" not in viewer_help
        assert "/lookout role" not in viewer_help
        lead_help = words(await say(client, "U0PAYLEAD", "help"))
        assert "/lookout ack" in lead_help and "/lookout role" in lead_help


async def test_a_scheduled_report_reads_only_its_channels_project(
    teams_server: RunningServer,
) -> None:
    async with teams_server.client() as client:
        await seed(client)
    run = teams_server.lookout.dispatcher.run
    for channel, project, mine, theirs in (
        ("#payments", None, "INC-1", "INC-2"),
        ("#platform", None, "INC-2", "INC-1"),
        ("#sre", "platform", "INC-2", "INC-1"),  # a channel no project owns: as configured
    ):
        conversation = Conversation("scheduler", channel, project=project)
        reply = await run("incidents", actor=SCHEDULER_ACTOR, conversation=conversation)
        text = " ".join(
            str(cell) for block in reply.blocks if isinstance(block, Table) for row in block.rows
            for cell in row
        )  # fmt: skip
        assert mine in text and theirs not in text, (channel, text)


async def test_incidents_of_two_projects_are_not_merged(teams_server: RunningServer) -> None:
    async with teams_server.client() as client:
        await seed(client)
        # The platform lead is an owner of platform and, like everyone, a viewer of payments;
        # made a payments responder, they may act on both incidents, but not merge them.
        await say(client, "U0PAYLEAD", "role U0PLATLEAD responder")
        refused = await say(client, "U0PLATLEAD", "merge INC-2 INC-1 --force", "#platform")
        assert words(refused) == (
            "INC-1 belongs to payments and INC-2 to platform; incidents of two projects are not "
            "merged."
        )


@pytest.mark.parametrize("change_first", [True, False])
@pytest.mark.parametrize(("owner", "suspected"), [(None, True), ("platform", False)])
async def test_only_the_incidents_projects_changes_are_suspects(
    teams_server: RunningServer, change_first: bool, owner: str | None, suspected: bool
) -> None:
    """A change another project owns is never weighed for an incident (nor shown on it)."""
    change = deploy(**({"project": owner} if owner else {}))
    async with teams_server.client() as client:
        sends = [("/webhooks/changes", change), ("/webhooks/alertmanager", alert_body("checkout"))]
        for path, body in sends if change_first else reversed(sends):
            assert (await client.post(path, json=body)).status_code == 200
    async with teams_server.lookout.database.unit_of_work() as uow:
        row = await uow.incidents.get(incident_id=1)
    assert row is not None and row.project == "payments"
    assert (row.suspect_change is not None) is suspected
