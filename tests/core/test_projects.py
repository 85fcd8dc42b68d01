"""core.projects: who owns an alert or a channel, and a person's role in each project."""

from __future__ import annotations

import pytest

from core.projects import Project, Projects, role_rank

PAYMENTS = Project(
    "payments",
    services=frozenset({"checkout"}),
    channels={"slack": "C0PAY", "console": "#payments"},
    members={"U0LEAD": "admin", "*": "viewer"},
    groups={"S0OC": "responder"},
)
PLATFORM = Project("platform", services=frozenset({"db"}), members={"U0PLAT": "responder"})
BOTH = Projects((PAYMENTS, PLATFORM))


def test_alerts_belong_to_a_named_project_else_their_services_else_the_default() -> None:
    assert BOTH.of_alert({"project": "platform"}, "checkout") == "platform"
    assert BOTH.of_alert({"project": "no-such"}, "checkout") == "payments"
    assert BOTH.of_alert({}, "db") == "platform"
    assert BOTH.of_alert({}, None) == "default"
    assert BOTH.names == ("payments", "platform", "default")


def test_channels_belong_to_one_project_per_platform() -> None:
    assert BOTH.of_channel("slack", "C0PAY") == "payments"
    assert BOTH.of_channel("teams", "C0PAY") is None
    assert BOTH.of_any_channel("#payments") == "payments"
    with pytest.raises(ValueError, match="C0PAY belongs to both payments and other"):
        Projects((PAYMENTS, Project("other", channels={"slack": "C0PAY"})))
    with pytest.raises(ValueError, match="service checkout belongs to both"):
        Projects((PAYMENTS, Project("other", services=frozenset({"checkout"}))))
    with pytest.raises(ValueError, match="unique"):
        Projects((PAYMENTS, PAYMENTS))


def test_the_highest_role_counts_and_strangers_are_not_members() -> None:
    assert BOTH.role_in("payments", "U0LEAD") == "admin"
    assert BOTH.role_in("payments", "U0ANY") == "viewer"
    assert BOTH.role_in("payments", "U0ANY", groups=["S0OC"]) == "responder"
    assert BOTH.role_in("payments", "U0LEAD", granted={"payments": "owner"}) == "owner"
    assert BOTH.role_in("platform", "U0ANY") is None
    # The default project (unconfigured) takes the access config's role.
    assert BOTH.role_in("default", "U0ANY", fallback="responder") == "responder"
    assert BOTH.roles_of("U0PLAT", fallback="viewer") == {
        "payments": "viewer",
        "platform": "responder",
        "default": "viewer",
    }
    # One team: every person is in the one project with the access config's role.
    assert Projects().roles_of("U0ANY", fallback="responder") == {"default": "responder"}


def test_roles_are_ordered() -> None:
    assert [role_rank(r) for r in ("viewer", "responder", "admin", "owner")] == [1, 2, 3, 4]
    with pytest.raises(ValueError, match="unknown role 'boss'"):
        role_rank("boss")
