"""The Numenta Anomaly Benchmark's scoring, reimplemented from its description and scorer.

Lavin & Ahmad, "Evaluating Real-time Anomaly Detection Algorithms — the Numenta Anomaly
Benchmark", IEEE ICMLA 2015 (arXiv:1510.03336), §IV, and NAB v1.1's `nab/sweeper.py`:

* every labelled anomaly has a window (`labels/combined_windows.json`); a detection inside
  it scores by its position, ``2 * sigmoid(-5 * p) - 1`` with p = -1 at the window's left
  edge and 0 just past its right edge, divided by that function's value at -1 so the
  earliest detection earns exactly `tpWeight`; only a window's best (earliest) detection
  counts; a window with no detection costs `fnWeight`;
* a detection outside every window costs `fpWeight` times the same sigmoid of its distance
  past the preceding window (in window widths less one sample; -1 before any window or 3+
  widths after), so a late detection just after a window costs little;
* the first 15 % of each file (at most 750 rows) is probationary and not scored;
* a detector's raw score is the sum over files at one threshold on its anomaly scores
  (a row is a detection when its score is at least the threshold), the threshold chosen to
  maximise that sum over the corpus (NAB's optimisation step);
* normalised score = 100 × (raw − null) / (perfect − null), where the null detector detects
  nothing (−fnWeight per window) and the perfect one detects every window at its left edge
  (tpWeight per window).
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

PROBATION_SHARE = 0.15
STANDARD = {"tpWeight": 1.0, "fnWeight": 1.0, "fpWeight": 0.11, "tnWeight": 1.0}


def scaled_sigmoid(position: float) -> float:
    if position >= 3.0:
        return -1.0
    return 2 / (1 + math.exp(5 * position)) - 1


@dataclass(frozen=True)
class Series:
    """One NAB data file with its windows as (first row, last row) pairs."""

    name: str
    timestamps: list[float]
    values: list[float]
    windows: list[tuple[int, int]]


@dataclass(frozen=True)
class _Point:
    score: float  # the detector's anomaly score
    weight: float  # what detecting this row is worth (negative outside windows)
    window: tuple[str, int] | None  # (file, window index) when inside one


def _timestamp(text: str) -> float:
    moment = datetime.fromisoformat(text.strip().replace(" ", "T"))
    return moment.replace(tzinfo=UTC).timestamp()


def load_corpus(root: Path) -> list[Series]:
    """Every data file under `root/data` that `root/labels/combined_windows.json` labels.
    Raises FileNotFoundError without the labels, ValueError for a window that names a
    timestamp the file does not have."""
    labels = json.loads((root / "labels" / "combined_windows.json").read_text())
    corpus = []
    for relative, windows in sorted(labels.items()):
        path = root / "data" / relative
        if not path.is_file():
            continue
        with path.open() as handle:
            rows = list(csv.DictReader(handle))
        timestamps = [_timestamp(row["timestamp"]) for row in rows]
        index = {stamp: i for i, stamp in enumerate(timestamps)}
        limits = []
        for start, end in windows:
            try:
                limits.append((index[_timestamp(start)], index[_timestamp(end)]))
            except KeyError as error:
                raise ValueError(f"{relative}: window edge {error} is not a row") from None
        corpus.append(Series(relative, timestamps, [float(row["value"]) for row in rows], limits))
    return corpus


def probation_length(rows: int) -> int:
    return math.floor(min(math.floor(PROBATION_SHARE * rows), PROBATION_SHARE * 5000))


def _points(series: Series, scores: Sequence[float], weights: dict[str, float]) -> list[_Point]:
    """NAB's sweep over one file: what each row is worth if it is a detection."""
    max_tp = scaled_sigmoid(-1.0)
    probation = probation_length(len(scores))
    points = []
    windows = list(series.windows)
    current: tuple[int, int, int] | None = None  # (window number, left, right)
    previous: tuple[int, int] | None = None  # (right edge, width) of the last window
    number = 0
    for i, score in enumerate(scores):
        if current is None and windows and i == windows[0][0]:
            left, right = windows.pop(0)
            current = (number, left, right)
            number += 1
        if current is not None:
            _, left, right = current
            width = right - left + 1
            weight = scaled_sigmoid(-(right - i + 1) / width) * weights["tpWeight"] / max_tp
        else:
            position = 3.0 if previous is None else abs(previous[0] - i) / (previous[1] - 1)
            weight = scaled_sigmoid(position) * weights["fpWeight"]
        if i >= probation:
            window = (series.name, current[0]) if current is not None else None
            points.append(_Point(score, weight, window))
        if current is not None and i == current[2]:
            previous = (current[2], current[2] - current[1] + 1)
            current = None
    return points


@dataclass(frozen=True)
class Result:
    threshold: float
    raw: float
    normalized: float
    detected_windows: int
    windows: int
    false_positives: int


def score_corpus(
    corpus: Sequence[Series],
    scores: Mapping[str, Sequence[float]],
    *,
    weights: dict[str, float] = STANDARD,
    threshold: float | None = None,
) -> Result:
    """NAB's score of one detector over a corpus: at `threshold`, or at the threshold that
    maximises the raw score (NAB's optimisation) when None."""
    points: list[_Point] = []
    windows = 0
    for series in corpus:
        points += _points(series, scores[series.name], weights)
        # Every labelled window counts, including any in the probationary period.
        windows += len(series.windows)
    points.sort(key=lambda point: point.score, reverse=True)
    null = -weights["fnWeight"] * windows
    perfect = weights["tpWeight"] * windows
    fp_sum = 0.0
    window_best: dict[tuple[str, int], float] = {}
    false_positives = 0
    candidates: list[tuple[float, float, int, int]] = [(math.inf, null, 0, 0)]
    i = 0
    while i < len(points):
        level = points[i].score
        while i < len(points) and points[i].score == level:
            point = points[i]
            if point.window is None:
                fp_sum += point.weight
                false_positives += 1
            else:
                known = window_best.get(point.window)
                if known is None or point.weight > known:
                    window_best[point.window] = point.weight
            i += 1
        detected = len(window_best)
        raw = fp_sum + sum(window_best.values()) - weights["fnWeight"] * (windows - detected)
        candidates.append((level, raw, detected, false_positives))
    if threshold is None:
        best = max(candidates, key=lambda item: (item[1], item[0]))
    else:
        eligible = [item for item in candidates if item[0] >= threshold]
        best = min(eligible, key=lambda item: item[0])
    level, raw, detected, fps = best
    normalized = 100 * (raw - null) / (perfect - null) if perfect != null else 0.0
    return Result(level, raw, normalized, detected, windows, fps)


def run_detector(
    corpus: Sequence[Series], detect: Callable[[Series], list[float]]
) -> dict[str, list[float]]:
    """The detector's anomaly score for every row of every file."""
    return {series.name: detect(series) for series in corpus}
