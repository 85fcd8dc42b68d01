"""Metric evidence: how far a series moved against its baseline (robust z and n-sigma), and
how services rank on it — the first mover ahead on a tie, a caller discounted when its
dependency moved more and earlier."""

from __future__ import annotations

from datetime import timedelta

import pytest

from core.metric_evidence import Movement, SignalRules, movement, rank_services, split

# A steady level near 100 with two old spikes to 300: the kind of baseline every real
# series has (a deploy, a cron job), which a plain standard deviation is blown up by.
SPIKY = [100.0, 101, 99, 100, 102, 98, 100, 300, 101, 99, 100, 101, 99, 100, 300, 100, 102, 98]


def test_robust_z_sees_a_move_that_old_spikes_hide_from_n_sigma() -> None:
    window = [100.0, 112, 115, 113]
    robust = movement(SPIKY, window, "robust")
    nsigma = movement(SPIKY, window, "nsigma")
    assert robust is not None and nsigma is not None
    # Median 100 and inter-quartile range 1.75: a move to 115 is 8.6 of them.
    assert robust.score == pytest.approx(15 / 1.75)
    assert robust.baseline == 100
    assert robust.peak == 115 and robust.direction == 1
    assert robust.moved_index == 1
    # Mean 122 and standard deviation 63: the same move is below the mean, 0.1 sigma.
    assert nsigma.score < 1
    assert nsigma.moved_index is None


def test_robust_z_is_not_fooled_by_a_spike_that_repeats_an_old_one() -> None:
    robust = movement(SPIKY, [100.0, 101, 99], "robust")
    assert robust is not None
    assert robust.score < 3 and robust.moved_index is None


def test_a_flat_series_that_moves_scores_high_and_one_that_stays_flat_scores_zero() -> None:
    flat = [5.0] * 20
    moved = movement(flat, [5.0, 5.0, 5.5, 6.0])
    # No spread at all: a move is measured against 1 % of the level (0.05).
    assert moved is not None
    assert moved.score == pytest.approx(20.0)
    assert (moved.direction, moved.moved_index, moved.baseline, moved.peak) == (1, 2, 5.0, 6.0)
    still = movement(flat, [5.0, 5.0, 5.0])
    assert still is not None and still.score == 0 and still.moved_index is None
    down = movement(flat, [5.0, 4.0])
    assert down is not None and down.direction == -1 and down.moved_index == 1


def test_no_finite_value_is_no_movement() -> None:
    assert movement([], [1.0]) is None
    assert movement([1.0, 2.0], [float("nan")]) is None


def _step(level: float, to: float, at: int, length: int = 6) -> Movement:
    moved = movement([level] * 20, [level] * at + [to] * (length - at))
    assert moved is not None
    return moved


def test_the_first_mover_wins_a_tie_whatever_its_name() -> None:
    ranked = rank_services(
        {
            ("alpha", "errors"): _step(1.0, 2.0, at=3),
            ("zeta", "errors"): _step(1.0, 2.0, at=1),
        }
    )
    assert [item.service for item in ranked] == ["zeta", "alpha"]
    assert ranked[0].score == pytest.approx(ranked[1].score)
    assert (ranked[0].moved_index, ranked[1].moved_index) == (1, 3)


def test_a_service_scores_the_sum_of_its_series_evidence() -> None:
    ranked = rank_services(
        {
            ("cart", "cpu"): _step(1.0, 1.2, at=1),
            ("cart", "latency"): _step(1.0, 1.2, at=2),
            ("cart", "errors"): _step(1.0, 1.2, at=2),
            # One series off a flat baseline: a bigger z, less evidence than three moves.
            ("frontend", "latency"): _step(1.0, 2.0, at=3),
        }
    )
    assert [item.service for item in ranked] == ["cart", "frontend"]
    assert ranked[1].series == "latency"


def test_a_caller_whose_dependency_moved_more_and_earlier_is_discounted() -> None:
    movements = {
        ("cart", "errors"): _step(1.0, 3.0, at=1),
        ("cart", "cpu"): _step(1.0, 3.0, at=1),
        ("frontend", "errors"): _step(1.0, 4.0, at=3),
    }
    alone = {item.service: item for item in rank_services(movements)}
    ranked = rank_services(movements, dependencies={"frontend": ["cart"]})
    assert [item.service for item in ranked] == ["cart", "frontend"]
    frontend = ranked[1]
    assert frontend.explained_by == "cart"
    assert frontend.score == pytest.approx(alone["frontend"].score * 0.5)
    assert ranked[0].explained_by is None


@pytest.mark.parametrize(
    ("dependency_at", "dependency_series"),
    [(4, ("errors", "cpu")), (1, ("errors",))],
    ids=["the dependency moved later", "the dependency moved less"],
)
def test_a_caller_is_not_discounted_for_a_dependency_that_moved_later_or_less(
    dependency_at: int, dependency_series: tuple[str, ...]
) -> None:
    movements = {("cart", name): _step(1.0, 3.0, at=dependency_at) for name in dependency_series}
    movements[("frontend", "errors")] = _step(1.0, 4.0, at=3)
    ranked = {
        item.service: item for item in rank_services(movements, dependencies={"frontend": ["cart"]})
    }
    assert ranked["frontend"].explained_by is None


def test_split_cuts_a_series_at_the_start_of_the_window_searched() -> None:
    points = [(0.0, 1.0), (60.0, 1.0), (120.0, 5.0), (180.0, 6.0)]
    assert split(points, 120.0) == ([1.0, 1.0], [5.0, 6.0], [120.0, 180.0])
    assert split(points, 0.0) == ([], [1.0, 1.0, 5.0, 6.0], [0.0, 60.0, 120.0, 180.0])


def test_the_lead_before_the_start_leaves_most_of_a_short_lookback_as_baseline() -> None:
    assert SignalRules().lead == timedelta(minutes=15)
    assert SignalRules(lookback_minutes=20).lead == timedelta(minutes=5)
    assert SignalRules(lookback_minutes=0.5).lead == timedelta(seconds=7.5)
    assert SignalRules(lead_minutes=0).lead == timedelta(0)
