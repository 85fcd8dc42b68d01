"""`bench/logs.py` reads Loghub's layout as held-out datasets give it (`<System>_2k.log` and
the corrected structured file, else the original one) and scores grouping accuracy as
Zhu et al. define it."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from bench.logs import grouping_accuracy, load, main

RESPONDER = "PacketResponder <*> for block <*> terminating"
ROWS = [
    ("Receiving block blk_1 src: /10.0.0.1:50010", "Receiving block <*> src: <*>"),
    ("Receiving block blk_2 src: /10.0.0.2:50010", "Receiving block <*> src: <*>"),
    ("PacketResponder 1 for block blk_1 terminating", RESPONDER),
    ("PacketResponder 0 for block blk_2 terminating", RESPONDER),
    ("Verification succeeded for blk_3", "Verification succeeded for <*>"),
]


def write_system(
    root: Path, name: str, rows: list[tuple[str, str]], *, suffix: str, raw: bool = True
) -> Path:
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / f"{name}_2k.log{suffix}").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["LineId", "Level", "Content", "EventId", "EventTemplate"])
        for number, (content, template) in enumerate(rows, start=1):
            writer.writerow([number, "INFO", content, f"E{len(template)}", template])
    if raw:
        lines = [f"081109 2036{i:02} INFO dfs.DataNode: {c}" for i, (c, _) in enumerate(rows)]
        (folder / f"{name}_2k.log").write_text("\n".join(lines) + "\n")
    return folder


def test_the_corrected_ground_truth_is_preferred(tmp_path: Path) -> None:
    folder = write_system(tmp_path, "HDFS", ROWS, suffix="_structured_corrected.csv")
    write_system(
        tmp_path, "HDFS", [(c, "stale") for c, _ in ROWS], suffix="_structured.csv", raw=False
    )
    loaded = load(folder)
    assert loaded is not None
    messages, templates = loaded
    assert messages == [content for content, _ in ROWS]
    assert templates == [template for _, template in ROWS]


def test_the_original_ground_truth_when_there_is_no_corrected_one(tmp_path: Path) -> None:
    folder = write_system(tmp_path, "Zookeeper", ROWS[:2], suffix="_structured.csv")
    assert load(folder) == ([c for c, _ in ROWS[:2]], [t for _, t in ROWS[:2]])


def test_a_folder_without_a_structured_file_is_no_system(tmp_path: Path) -> None:
    (tmp_path / "README").mkdir()
    (tmp_path / "README" / "README_2k.log").write_text("a line\n")
    assert load(tmp_path / "README") is None


def test_a_raw_log_shorter_than_its_ground_truth_is_warned_about(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = write_system(tmp_path, "HDFS", ROWS, suffix="_structured_corrected.csv")
    (folder / "HDFS_2k.log").write_text("only one line\n")
    assert load(folder) is not None
    assert "has 1 lines for 5 rows" in capsys.readouterr().err


def test_grouping_accuracy_counts_messages_whose_group_is_exactly_their_templates() -> None:
    truth = ["A", "A", "B", "B", "C"]
    assert grouping_accuracy(truth, ["x", "x", "y", "y", "z"]) == 1.0
    # Names do not matter, only who is grouped with whom.
    assert grouping_accuracy(truth, ["3", "3", "1", "1", "2"]) == 1.0
    # B and C merged: their three messages are wrong, A's two are right.
    assert grouping_accuracy(truth, ["x", "x", "y", "y", "y"]) == pytest.approx(2 / 5)
    # A split in two: both of A's messages are wrong.
    assert grouping_accuracy(truth, ["x", "w", "y", "y", "z"]) == pytest.approx(3 / 5)
    assert grouping_accuracy([], []) == 0.0
    with pytest.raises(ValueError):
        grouping_accuracy(truth, ["x"])


def test_a_run_over_a_held_out_folder_scores_each_system(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_system(tmp_path, "HDFS", ROWS, suffix="_structured_corrected.csv")
    write_system(tmp_path, "NewSystem", ROWS, suffix="_structured.csv")
    (tmp_path / "notes").mkdir()
    assert main(["--data", str(tmp_path)]) == 0
    out = capsys.readouterr().out.splitlines()
    hdfs = next(line for line in out if line.startswith("HDFS"))
    new = next(line for line in out if line.startswith("NewSystem"))
    assert hdfs.split()[1:4] == ["5", "1.000", "0.998"]  # lines, GA, Drain's published GA
    assert new.split()[1:4] == ["5", "1.000", "—"]
    assert any(line.startswith("average") and "1.000" in line for line in out)


def test_a_folder_with_no_system_is_a_plain_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--data", str(tmp_path)]) == 2
    assert "no Loghub systems under" in capsys.readouterr().err
