"""`bench/rca.py` reads RCAEval's case layout as held-out datasets give it: `data.csv` or
`metrics.csv`, `inject_time.txt`, the root cause from the folder's name and a call graph
from the nearest `dependency.csv`; and a run over such a folder scores Lookout first."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bench.rca import Case, load_cases, lookout, main, nsigma

INJECT = 1_700_000_600
GRAPH = "Source,Target\nfrontend,cartservice\nfrontend,currencyservice\n"


def write_case(
    root: Path,
    folder: str,
    *,
    cause: str,
    data_name: str = "data.csv",
    graph: str | None = None,
) -> Path:
    """A case of 20 one-minute rows: every service wobbles around its level; from the
    injection (row 10) `cause`'s cpu jumps and frontend's latency follows a minute later."""
    path = root / folder
    path.mkdir(parents=True)
    services = ["cartservice", "currencyservice", "frontend"]
    header = ["time", *(f"{s}_{m}" for s in services for m in ("cpu", "latency"))]
    rows = [",".join(header)]
    for row in range(20):
        at = INJECT - 600 + 60 * row
        values = []
        for service in services:
            cpu = 1.0 + 0.01 * (row % 3)
            latency = 0.2 + 0.001 * (row % 2)
            if service == cause and at >= INJECT:
                cpu = 4.0
            if service == "frontend" and at >= INJECT + 60:
                latency = 0.3
            values += [f"{cpu}", f"{latency}"]
        rows.append(",".join([str(at), *values]))
    (path / data_name).write_text("\n".join(rows) + "\n")
    (path / "inject_time.txt").write_text(f"{INJECT}\n")
    if graph is not None:
        (path / "dependency.csv").write_text(graph)
    return path


def test_a_case_folder_in_rcaevals_layout_loads(tmp_path: Path) -> None:
    write_case(tmp_path, "cartservice_cpu/1", cause="cartservice")
    [case] = load_cases(tmp_path)
    assert isinstance(case, Case)
    assert case.name == "cartservice_cpu/1"
    assert case.root_cause == "cartservice"
    assert case.inject_time == INJECT
    assert case.times[:2] == [INJECT - 600, INJECT - 540] and len(case.times) == 20
    assert sorted(case.columns) == [
        "cartservice_cpu",
        "cartservice_latency",
        "currencyservice_cpu",
        "currencyservice_latency",
        "frontend_cpu",
        "frontend_latency",
    ]
    assert case.columns["cartservice_cpu"][10] == 4.0
    assert case.dependencies == {}
    assert lookout(case)[0] == "cartservice"


def test_metrics_csv_hyphenated_services_and_blank_cells(tmp_path: Path) -> None:
    path = tmp_path / "ts-auth-service_delay" / "2"
    path.mkdir(parents=True)
    (path / "metrics.csv").write_text(
        "time,ts-auth-service_cpu,ts-order-service_cpu,notaservice\n"
        f"{INJECT - 60},1.0,,7\n"
        f"{INJECT},5.0,1.0\n"
    )
    (path / "inject_time.txt").write_text(f"{INJECT}")
    [case] = load_cases(tmp_path)
    assert case.root_cause == "ts-auth-service"
    assert case.columns == {
        "ts-auth-service_cpu": [1.0, 5.0],
        "ts-order-service_cpu": [None, 1.0],
    }


def test_a_folder_without_data_or_injection_time_is_no_case(tmp_path: Path) -> None:
    write_case(tmp_path, "cartservice_cpu/1", cause="cartservice")
    (tmp_path / "cartservice_cpu" / "2").mkdir()
    (tmp_path / "cartservice_cpu" / "2" / "data.csv").write_text("time,cartservice_cpu\n1,1\n")
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "inject_time.txt").write_text("1\n")
    assert [case.name for case in load_cases(tmp_path)] == ["cartservice_cpu/1"]


def test_the_call_graph_is_shared_from_the_top_and_overridden_beside_the_data(
    tmp_path: Path,
) -> None:
    (tmp_path / "dependency.csv").write_text(GRAPH)
    write_case(tmp_path, "cartservice_cpu/1", cause="cartservice")
    write_case(
        tmp_path,
        "currencyservice_cpu/1",
        cause="currencyservice",
        graph="Source,Target\nfrontend,currencyservice\n",
    )
    shared, own = load_cases(tmp_path)
    assert shared.dependencies == {"frontend": ["cartservice", "currencyservice"]}
    assert own.dependencies == {"frontend": ["currencyservice"]}


def test_cases_are_found_below_a_benchmarks_top_folder(tmp_path: Path) -> None:
    (tmp_path / "RE1-OB").mkdir()
    (tmp_path / "RE1-OB" / "dependency.csv").write_text(GRAPH)
    write_case(tmp_path, "RE1-OB/cartservice_cpu/1", cause="cartservice")
    write_case(tmp_path, "RE1-SS/currencyservice_mem", cause="currencyservice")
    first, second = load_cases(tmp_path)
    assert (first.name, first.root_cause) == ("RE1-OB/cartservice_cpu/1", "cartservice")
    assert first.dependencies == {"frontend": ["cartservice", "currencyservice"]}
    assert (second.name, second.root_cause) == ("RE1-SS/currencyservice_mem", "currencyservice")
    assert second.dependencies == {}


def test_a_run_over_a_held_out_folder_prints_every_method(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "dependency.csv").write_text(GRAPH)
    write_case(tmp_path, "cartservice_cpu/1", cause="cartservice")
    write_case(tmp_path, "currencyservice_cpu/1", cause="currencyservice")
    assert main(["--data", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "2 cases, 3 services" in out
    assert re.search(r"Lookout \(robust z \+ call graph\) +1\.000 +1\.000 +1\.000 ", out), out
    assert "n-sigma baseline" in out
    for case in load_cases(tmp_path):
        assert nsigma(case)  # the baseline ranks every service too


def test_an_empty_folder_is_a_plain_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--data", str(tmp_path)]) == 2
    assert "no RCAEval cases under" in capsys.readouterr().err
