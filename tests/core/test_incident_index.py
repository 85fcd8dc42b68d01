"""The index gives the same decisions as weighing every incident, on generated storms."""

from __future__ import annotations

import random

import pytest

from bench.alert_storm import ALL_LABELS, DEFAULT_ROUTE, StormGenerator, random_topology, with_route
from bench.grouping import START, replay_lookout
from core.grouping_rules import GroupingRules


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("group_by", [(), ("alertname",), DEFAULT_ROUTE, ALL_LABELS])
def test_indexed_and_full_replays_decide_alike(seed: int, group_by: tuple[str, ...]) -> None:
    rng = random.Random(seed)
    topology, kinds = random_topology(rng, 80)
    storm = StormGenerator(rng, topology, kinds, START).storm(
        hours=4, outages=8, background=10, flap_share=0.15
    )
    storm = with_route(storm, group_by)
    rules = GroupingRules()
    indexed = replay_lookout(storm, topology, rules, indexed=True)
    full = replay_lookout(storm, topology, rules, indexed=False)
    assert indexed.assignment == full.assignment
    assert indexed.suppressed == full.suppressed
    assert indexed.root_hits == full.root_hits
