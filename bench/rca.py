"""Root-cause ranking from metrics: Lookout's metric evidence against a plain n-sigma baseline.

For every injected fault, rank the services from the metrics around the injection time and
score the rank of the true root-cause service, for two methods in the same run:

* **Lookout** — `core.metric_evidence`: BARO's robust z-score (median and inter-quartile
  range of the baseline; Pham et al., FSE 2024) per series, a service scored by the summed
  evidence `log(1 + z)` of its series, discounted when a service it calls moved more and
  earlier (the call graph, when the case has one; printed without it too);
* **n-sigma** — the RCAEval benchmark's NSigma baseline: `|x - mean| / std` of the baseline,
  a service scored by its strongest series, no call graph.

Figures (RCAEval's, Pham et al., WWW 2025): top-1 and top-3 accuracy (the root cause is
ranked first / among the first three) and Avg@5 (the mean of top-1 … top-5 accuracy).

Data. `--data DIR` in RCAEval's case layout: `DIR/<service>_<fault>/<n>/` holding `data.csv`
or `metrics.csv` (a `time` column in Unix seconds and one column per `<service>_<metric>`)
and `inject_time.txt` (Unix seconds); the root cause is the folder name's service. Cases are
found at any depth under `DIR`. An optional `dependency.csv` (`Source,Target`: caller,
callee) beside the data, or in a folder above it (`DIR` itself for all cases), gives the
call graph. Without `--data`, the Nezha Online Boutique dataset
(`../shared/datasets/nezha-online-boutique`: per-pod metrics at one-minute resolution, the
call graph in `metric/dependency.csv`, faults with injection time and pod in
`*-fault_list.json`) is converted to that layout first (`--convert-to DIR` keeps it): each
fault becomes a case of the `--before` minutes before its injection and the `--after`
minutes from it; the baseline starts after the previous fault's `--after` window where that
leaves at least three minutes of it.

Run: `python bench/rca.py` (Nezha) or `python bench/rca.py --data DIR`. The exit code is 0
unless the run itself broke; targets are reported, not asserted.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

if __package__ in (None, ""):  # run as `python bench/rca.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.metric_evidence import Method, Movement, movement, rank_services

REPO = Path(__file__).resolve().parent.parent
NEZHA = REPO.parent / "shared" / "datasets" / "nezha-online-boutique"
NEZHA_METRICS = (
    "CpuUsage(m)",
    "CpuUsageRate(%)",
    "MemoryUsage(Mi)",
    "MemoryUsageRate(%)",
    "SyscallRead",
    "SyscallWrite",
    "NetworkReceiveBytes",
    "NetworkTransmitBytes",
    "PodClientLatencyP90(s)",
    "PodServerLatencyP90(s)",
    "PodClientLatencyP95(s)",
    "PodServerLatencyP95(s)",
    "PodClientLatencyP99(s)",
    "PodServerLatencyP99(s)",
    "PodWorkload(Ops)",
    "PodSuccessRate(%)",
)


@dataclass(frozen=True)
class Case:
    """One fault: `columns` maps `<service>_<metric>` to its values at `times`."""

    name: str
    root_cause: str
    inject_time: float
    times: list[float]
    columns: dict[str, list[float]]
    dependencies: dict[str, list[str]]


# ---------------------------------------------------------------- Nezha → RCAEval


def _nezha_time(text: str) -> float:
    """`2022-08-22 03:51:19.607158889 +0000 UTC m=+0.11` → Unix seconds. The Time column
    is used, not TimeStamp: a few files carry TimeStamps with a wrong leading digit."""
    day, clock = text.split(" ")[:2]
    return datetime.fromisoformat(f"{day}T{clock[:15]}+00:00").timestamp()


def convert_nezha(source: Path, target: Path, *, before: float, after: float) -> int:
    """Write every Nezha fault as an RCAEval case under `target`; returns how many."""
    count = 0
    for day in sorted(path for path in (source / "rca_data").iterdir() if path.is_dir()):
        series: dict[str, dict[float, float]] = {}
        for path in sorted((day / "metric").glob("*_metric.csv")):
            service = path.name.split("-")[0]
            with path.open(newline="") as handle:
                for row in csv.DictReader(handle):
                    at = round(_nezha_time(row["Time"]) / 60) * 60.0  # one sample a minute
                    for metric in NEZHA_METRICS:
                        value = _number(row.get(metric))
                        if value is not None:
                            series.setdefault(f"{service}_{metric}", {})[at] = value
        faults = json.loads(next(day.glob("*fault_list.json")).read_text())
        injections = sorted(
            (int(item["inject_timestamp"]), item["inject_pod"].split("-")[0], item["inject_type"])
            for group in faults.values()
            for item in group
        )
        graph = (day / "metric" / "dependency.csv").read_text()
        previous: float | None = None
        for inject, service, fault in injections:
            start = inject - before * 60
            if previous is not None:  # leave the previous fault's window out of the baseline
                start = max(start, min(previous + after * 60, inject - 3 * 60))
            end = inject + after * 60
            previous = float(inject)
            times = sorted({t for values in series.values() for t in values if start <= t <= end})
            if not times:
                continue
            count += 1
            folder = target / f"{service}_{fault}" / str(count)
            folder.mkdir(parents=True, exist_ok=True)
            names = sorted(series)
            with (folder / "data.csv").open("w", newline="") as handle:
                writer = csv.writer(handle)
                writer.writerow(["time", *names])
                for moment in times:
                    writer.writerow(
                        [int(moment), *(_cell(series[name].get(moment)) for name in names)]
                    )
            (folder / "inject_time.txt").write_text(f"{inject}\n")
            (folder / "dependency.csv").write_text(graph)
    return count


def _cell(value: float | None) -> str:
    return "" if value is None else repr(value)


def _number(text: str | None) -> float | None:
    try:
        value = float(text) if text not in (None, "") else None
    except ValueError:
        return None
    return value if value is not None and math.isfinite(value) else None


# ---------------------------------------------------------------- RCAEval layout


def load_cases(root: Path) -> list[Case]:
    """Every case under `root` in RCAEval's layout, by name: a folder holding
    `inject_time.txt` and `data.csv` or `metrics.csv`, at any depth (so a benchmark's top
    folder holding several systems loads too). The root cause is the service in the name of
    the case's folder, or of its parent when the case's folder is only a number
    (`<service>_<fault>/<n>/`). The call graph is the nearest `dependency.csv`: beside the
    data, or in a folder above it up to `root`."""
    cases = []
    for inject in sorted(root.rglob("inject_time.txt")):
        folder = inject.parent
        data = next(
            (folder / n for n in ("data.csv", "metrics.csv") if (folder / n).is_file()), None
        )
        if data is None:
            continue
        with data.open(newline="") as handle:
            reader = csv.reader(handle)
            header = next(reader)
            rows = list(reader)
        time_index = header.index("time")
        columns: dict[str, list[float]] = {}
        for index, name in enumerate(header):
            if index == time_index or "_" not in name:
                continue
            columns[name] = [_number(row[index]) if index < len(row) else None for row in rows]  # type: ignore[misc]
        times = [float(row[time_index]) for row in rows]
        named = folder.parent if folder.name.isdigit() else folder
        cases.append(
            Case(
                name=folder.relative_to(root).as_posix(),
                root_cause=named.name.split("_")[0],
                inject_time=float(inject.read_text().split()[0]),
                times=times,
                columns=columns,
                dependencies=_nearest_graph(folder, root),
            )
        )
    return cases


def _nearest_graph(folder: Path, root: Path) -> dict[str, list[str]]:
    for place in (folder, *folder.parents):
        graph = _graph(place / "dependency.csv")
        if graph or place == root:
            return graph
    return {}


def _graph(path: Path) -> dict[str, list[str]]:
    if not path.is_file():
        return {}
    graph: dict[str, list[str]] = defaultdict(list)
    with path.open(newline="") as handle:
        for row in csv.DictReader(handle):
            graph[row["Source"]].append(row["Target"])
    return dict(graph)


# ---------------------------------------------------------------- methods


def movements(case: Case, method: Method) -> dict[tuple[str, str], Movement]:
    found = {}
    for name, values in case.columns.items():
        service, metric = name.split("_", 1)
        normal = [v for t, v in zip(case.times, values, strict=True) if t < case.inject_time]
        after = [v for t, v in zip(case.times, values, strict=True) if t >= case.inject_time]
        moved = movement(
            [v for v in normal if v is not None], [v for v in after if v is not None], method
        )
        if moved is not None:
            found[(service, metric)] = moved
    return found


def lookout(case: Case) -> list[str]:
    ranked = rank_services(movements(case, "robust"), dependencies=case.dependencies)
    return [item.service for item in ranked]


def lookout_without_graph(case: Case) -> list[str]:
    return [item.service for item in rank_services(movements(case, "robust"))]


def nsigma(case: Case) -> list[str]:
    """NSigma as RCAEval runs it: a service is as anomalous as its most anomalous series."""
    best: dict[str, float] = {}
    for (service, _), moved in movements(case, "nsigma").items():
        best[service] = max(best.get(service, 0.0), moved.score)
    return sorted(best, key=lambda service: (-best[service], service))


def accuracy(ranks: Sequence[int | None], k: int) -> float:
    return sum(1 for rank in ranks if rank is not None and rank <= k) / len(ranks)


def evaluate(cases: Sequence[Case], method: Callable[[Case], list[str]]) -> dict[str, float]:
    ranks = []
    started = time.perf_counter()
    for case in cases:
        ranking = method(case)
        ranks.append(ranking.index(case.root_cause) + 1 if case.root_cause in ranking else None)
    seconds = time.perf_counter() - started
    return {
        "top1": accuracy(ranks, 1),
        "top3": accuracy(ranks, 3),
        "avg5": statistics.fmean(accuracy(ranks, k) for k in range(1, 6)),
        "ms_per_case": 1000 * seconds / len(cases),
    }


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        root = args.data
        if root is None:
            root = args.convert_to or Path(scratch)
            count = convert_nezha(args.nezha, root, before=args.before, after=args.after)
            print(f"Nezha Online Boutique → RCAEval layout: {count} cases in {root}")
        cases = load_cases(root)
        if not cases:
            print(f"no RCAEval cases under {root}", file=sys.stderr)
            return 2
        services = {name.split("_", 1)[0] for case in cases for name in case.columns}
        print(f"{len(cases)} cases, {len(services)} services\n")
        results = {
            "Lookout (robust z + call graph)": evaluate(cases, lookout),
            "Lookout without the call graph": evaluate(cases, lookout_without_graph),
            "n-sigma baseline": evaluate(cases, nsigma),
        }
        print(f"{'method':34} {'top-1':>7} {'top-3':>7} {'Avg@5':>7} {'ms/case':>8}")
        for name, figures in results.items():
            print(
                f"{name:34} {figures['top1']:7.3f} {figures['top3']:7.3f} "
                f"{figures['avg5']:7.3f} {figures['ms_per_case']:8.1f}"
            )
        ours, base = results["Lookout (robust z + call graph)"], results["n-sigma baseline"]
        better = all(ours[key] >= base[key] for key in ("top1", "top3", "avg5"))
        print(f"\nLookout {'beats or ties' if better else 'does NOT beat'} n-sigma on every figure")
        if args.per_case:
            for case in cases:
                print(f"{case.name:40} lookout={lookout(case)[:3]} nsigma={nsigma(case)[:3]}")
    return 0


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--data", type=Path, help="cases in RCAEval's layout")
    parser.add_argument("--nezha", type=Path, default=NEZHA, help="the Nezha dataset")
    parser.add_argument("--convert-to", type=Path, help="keep the converted Nezha cases here")
    parser.add_argument("--before", type=float, default=10, help="minutes of baseline (Nezha)")
    parser.add_argument("--after", type=float, default=5, help="minutes after injection (Nezha)")
    parser.add_argument("--per-case", action="store_true", help="print each case's top three")
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(main())
