"""The report uses only values a run could have recorded: a metric is a finite JSON number
(not a bool, not a string), an accuracy lies in [0, 1], a seed is an integer. Anything else is
listed under "Runs not used" with the reason; folder and --select mistakes are one line."""

from __future__ import annotations

import json

import pytest

from biaslab.records.results import write_results
from biaslab.report.cli import main

from .test_report import bias_sweep, write_run

# (what the record holds, the reason the report gives)
BAD = {
    "string": ({"test/acc": "0.9"}, 'test/acc = "0.9": not a number'),
    "true": ({"test/acc": True}, "test/acc = true: not a number"),
    "above 1": ({"test/acc": 1.5}, "test/acc = 1.5: an accuracy must be in [0, 1]"),
    "1e308": ({"test/acc": 1e308}, "test/acc = 1e+308: beyond float32's range"),
    "negative": ({"test/acc": -0.1}, "test/acc = -0.1: an accuracy must be in [0, 1]"),
    "huge integer": ({"test/acc": 10**400}, "beyond float32's range"),
    "dict seed": ({"seed": {"a": 1}}, 'seed = {"a": 1}: not an integer'),
    "bool seed": ({"seed": True}, "seed = true: not an integer"),
    "float seed": ({"seed": 1e308}, "seed = 1e+308: not an integer"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_a_value_no_run_records_is_listed_not_used(tmp_path, capsys, case):
    fields, why = BAD[case]
    bias_sweep(tmp_path, gain=0.05, seeds=range(3))
    bad = write_run(tmp_path, "bad", seed=7, bias=True, acc=0.9)
    rec = json.loads(bad.read_text())
    for key, value in fields.items():
        if key == "seed":
            rec["seed"] = value
        else:
            rec["metrics"][key] = value
    write_results(bad.parent, rec)  # as a writer would seal it: only the value is at fault
    assert main([str(tmp_path)]) == 0
    md = (tmp_path / "report.md").read_text()
    assert "Runs: 7 found, 6 used, 1 not used" in md, case
    (row,) = [line for line in md.splitlines() if line.startswith(f"| {bad} |")]
    assert why in row, row
    assert "bias helps" in capsys.readouterr().out


def test_a_loss_beyond_float32_is_listed_not_a_traceback(tmp_path):
    bias_sweep(tmp_path, gain=0.05, seeds=range(3))
    for i, path in enumerate(sorted(tmp_path.rglob("results.json"))):
        rec = json.loads(path.read_text())
        rec["metrics"]["test/loss"] = 1e308 if i == 0 else -1e308 if i == 1 else 0.5
        write_results(path.parent, rec)
    assert main([str(tmp_path), "--metric", "test/loss"]) == 0
    md = (tmp_path / "report.md").read_text()
    assert "Runs: 6 found, 4 used, 2 not used" in md
    assert md.count("test/loss = 1e+308: beyond float32's range") == 1


def test_folder_and_select_mistakes_are_one_line(tmp_path, capsys):
    missing = tmp_path / "nowhere"
    assert main([str(missing)]) == 2
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main([str(empty)]) == 2
    bias_sweep(tmp_path / "runs", gain=0.05, seeds=range(3))
    args = [str(tmp_path / "runs"), "--select", "optimizer.lr", "--by", "val/acc"]
    for path in (tmp_path / "runs").rglob("results.json"):
        rec = json.loads(path.read_text())
        rec["config"]["optimizer"] = {"lr": 0.01}
        rec["metrics"]["val/acc"] = rec["metrics"]["test/acc"]
        write_results(path.parent, rec)
    assert main(args) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"error: {missing}: no such file or folder",
        f"error: no runs found in {empty}: no results.json under it",
        "error: --select optimizer.lr: the runs hold one value of it (0.01), so there is "
        "nothing to tune: leave out --select and --by",
    ]
