"""SLA targets for one service: the most specific target wins (service over severity), on
the incident's message and for the breach the escalation pass records."""

from __future__ import annotations

from pathlib import Path

import yaml

from core.sla import SlaRules
from storage.database import Database
from tests.bot.background.paging_harness import paging
from tests.conftest import database_url_for

TARGETS = """
sla:
  targets:
    - {severity: critical, mtta: 5m, mttr: 4h}
    - {severity: critical, service: checkout, mtta: 2m}
    - {service: search, mttr: 1d}
"""


def test_the_most_specific_target_sets_each_clock() -> None:
    rules = SlaRules.model_validate(yaml.safe_load(TARGETS)["sla"])

    def names(severity: str, service: str) -> tuple[str | None, str | None]:
        found = [rules.target_for(severity, service, clock) for clock in ("mtta", "mttr")]
        return (found[0].name if found[0] else None, found[1].name if found[1] else None)

    # checkout's own target sets its MTTA only; its MTTR is the severity's.
    assert names("critical", "checkout") == ("critical checkout", "critical")
    assert names("critical", "api") == ("critical", "critical")
    # A service-wide target beats a severity-wide one.
    assert names("critical", "search") == ("critical", "search")
    assert names("warning", "search") == (None, "search")
    assert names("warning", "checkout") == (None, None)


async def test_one_services_target_is_on_its_card_and_breaches_on_its_own_clock(
    tmp_path: Path,
) -> None:
    database = Database(database_url_for(tmp_path))
    await database.upgrade()
    lookout = await paging(database, TARGETS)
    await lookout.fire("HighErrorRate", "checkout")  # INC-1
    await lookout.fire("Down", "api")  # INC-2
    await lookout.step(seconds=1)
    assert "ack due by 03:02 UTC (target 2m)" in await lookout.card(1)
    assert "ack due by 03:05 UTC (target 5m)" in await lookout.card(2)
    await lookout.step(minutes=2)
    async with database.unit_of_work() as uow:
        breaches = await uow.escalations.breaches_of(incident_ids=[1, 2])
    assert [(b.incident_id, b.clock, b.target) for b in breaches] == [
        (1, "mtta", "critical checkout")
    ]
    await lookout.step(minutes=3)
    async with database.unit_of_work() as uow:
        breaches = await uow.escalations.breaches_of(incident_ids=[1, 2])
    assert sorted((b.incident_id, b.clock, b.target) for b in breaches) == [
        (1, "mtta", "critical checkout"),
        (2, "mtta", "critical"),
    ]
    assert "⏰ ack overdue since 03:02 UTC (target 2m)" in await lookout.card(1)
    await lookout.close()
    await database.dispose()
