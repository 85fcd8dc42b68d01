"""The policy pass: each project's rules (`core.policies`) evaluated on its incidents after
every change (ingestion, a command, a run) and on a timer, so rules on `age` and `idle`
fire as time passes. A rule fires at most once per incident episode: the firing is a unique
row, written in the transaction that acts, with the incident locked — replicas evaluating
at once fire it once. Firings are audited, in the incident's timeline and posted in its
thread (a tracked message the notifier delivers)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta

from bot.background.passes import BackgroundPass
from bot.metrics import Metrics
from core.incidents import display_id
from core.policies import Facts, Outcome, Rule, evaluate
from skills.policy_work import fire, incident_facts
from storage.database import Database
from storage.models import IncidentRow
from storage.uow import UnitOfWork

log = logging.getLogger(__name__)

# Resolved incidents stay candidates this long (rules may act on `resolved`).
RESOLVED_WINDOW = timedelta(days=1)
# What a rule changes can make another rule hold: look again at once, but a bounded number
# of times in one pass.
MOST_ROUNDS = 5


class PolicyEngine:
    """Evaluates `rules` (project → its rules) on the incidents of those projects."""

    def __init__(
        self,
        database: Database,
        rules: Mapping[str, tuple[Rule, ...]],
        *,
        on_change: Callable[[], None],
        metrics: Metrics,
        interval: float = 30.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._database = database
        self._rules = {project: rules for project, rules in rules.items() if rules}
        self._on_change = on_change
        self._clock = clock
        self._background = BackgroundPass(
            "policies", self.run_once, interval=interval, debounce=0.5, metrics=metrics
        )

    @property
    def rules(self) -> Mapping[str, tuple[Rule, ...]]:
        return self._rules

    def wake(self) -> None:
        self._background.wake()

    def start(self) -> None:
        self._background.start()

    async def stop(self) -> None:
        await self._background.stop()

    async def run_once(self) -> list[tuple[int, str]]:
        """One pass over every candidate incident; returns (incident id, rule) fired."""
        if not self._rules:
            return []
        now = self._clock()
        async with self._database.unit_of_work() as uow:
            incidents = await uow.policies.candidates(
                projects=list(self._rules), resolved_since=now - RESOLVED_WINDOW
            )
        fired: list[tuple[int, str]] = []
        for incident in incidents:
            for _ in range(MOST_ROUNDS):
                name = await self._evaluate(incident.id, now)
                if name is None:
                    break
                fired.append((incident.id, name))
        if fired:
            log.info(
                "policies fired",
                extra={"firings": [f"{display_id(i)} {rule}" for i, rule in fired]},
            )
            self._on_change()
        return fired

    async def _evaluate(self, incident_id: int, now: datetime) -> str | None:
        """Fire the first rule that holds for the incident now; its name, or None. One rule
        a transaction: what it changes is what the next rule sees. The incident is read
        without a lock first; only when a rule would fire is it locked and read again."""
        if not await self._would_fire(incident_id, now, lock=False):
            return None
        async with self._database.unit_of_work() as uow:
            return await self._fire_first(uow, incident_id, now)

    async def _would_fire(self, incident_id: int, now: datetime, *, lock: bool) -> bool:
        async with self._database.unit_of_work() as uow:
            found = await self._outcomes(uow, incident_id, now, lock=lock)
        return found is not None and any(outcome.fires for outcome in found[2])

    async def _outcomes(
        self, uow: UnitOfWork, incident_id: int, now: datetime, *, lock: bool
    ) -> tuple[IncidentRow, Facts, list[Outcome]] | None:
        incident = await uow.incidents.get(incident_id=incident_id, for_update=lock)
        rules = self._rules.get(incident.project, ()) if incident is not None else ()
        if incident is None or not rules or incident.merged_into is not None:
            return None
        done = await uow.policies.fired(incident_id=incident.id, episode=incident.episode)
        if all(rule.name in done for rule in rules):
            return None
        facts = await incident_facts(
            alerts=uow.alerts, knowledge=uow.knowledge, incident=incident, now=now
        )
        return incident, facts, evaluate(rules, facts, fired=done)

    async def _fire_first(self, uow: UnitOfWork, incident_id: int, now: datetime) -> str | None:
        found = await self._outcomes(uow, incident_id, now, lock=True)
        if found is None:
            return None
        incident, facts, outcomes = found
        for outcome in outcomes:
            if outcome.fires and await fire(uow, incident, outcome, facts, now=now):
                return outcome.rule.name
        return None
