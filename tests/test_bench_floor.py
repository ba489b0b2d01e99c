"""``python -m biaslab.bench --floor PRESET``: the arithmetic of a preset's sweep, counted so
that the floor it gives can be trusted against the sweep's measured time."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from biaslab.bench import cli
from biaslab.bench.floor import measured_time, step_flops, sweep_floor
from biaslab.records.results import SCHEMA_VERSION


def test_step_flops_counts_a_linear_layer_forward_and_backward():
    model = nn.Sequential(nn.Flatten(), nn.Linear(40, 10))
    x, y = torch.randn(8, 1, 40), torch.randint(0, 10, (8,))
    forward = 2 * 8 * 40 * 10  # one multiply-add per weight per sample
    assert step_flops(model, x, y, train=False) == forward
    # backward: the weight's gradient only (the input needs none)
    assert step_flops(model, x, y, train=True) == 2 * forward
    assert all(p.grad is None for p in model.parameters())  # counting leaves no gradient


def floor(tmp_path, data_dir, *overrides):
    base = [f"paths.data_dir={data_dir}", "model.width=2,4", "optimizer.lr=0.01", *overrides]
    return sweep_floor("bias_vs_width", base, tmp_path, batch=16, repeats=1)


def test_packed_and_one_seed_per_job_forms_of_a_grid_do_the_same_arithmetic(tmp_path, data_dir):
    packed = floor(tmp_path, data_dir)
    single = floor(tmp_path, data_dir, "train.parallel_seeds=1", "seed=range(5)")
    assert (packed["jobs"], packed["runs"]) == (4, 20)
    assert (single["jobs"], single["runs"]) == (20, 20)
    assert packed["train_flops"] == single["train_flops"] > 0
    assert packed["eval_flops"] == single["eval_flops"] > 0
    # per shape: the jobs of each width and arm, their floors adding up to the sweep's
    assert {row["jobs"] for row in packed["shapes"].values()} == {1}
    assert sum(r["floor_s"] for r in packed["shapes"].values()) == pytest.approx(packed["floor_s"])


def test_training_flops_scale_with_the_steps_and_the_floor_with_the_flops(tmp_path, data_dir):
    short = floor(tmp_path, data_dir, "trainer.max_steps=100")
    long = floor(tmp_path, data_dir, "trainer.max_steps=300")
    assert long["train_flops"] == 3 * short["train_flops"]
    for r in (short, long):
        total = r["train_flops"] + r["eval_flops"]
        assert r["floor_s"] == total / r["rate"]["flops_per_s"]


def record(path, status, total_s):
    path.mkdir(parents=True)
    record = {"schema_version": SCHEMA_VERSION, "status": status, "timing": {"total_s": total_s}}
    (path / "results.json").write_text(json.dumps(record))


def test_measured_time_counts_each_job_once_and_only_completed_ones(tmp_path):
    for seed in range(3):  # a packed job: its members share the job's time
        record(tmp_path / "0" / f"seed={seed}", "completed", 60.0)
    record(tmp_path / "1", "completed", 30.0)  # a job of one run
    record(tmp_path / "2" / "seed=0", "interrupted", 99.0)
    assert measured_time(tmp_path) == {
        "jobs": 2,
        "total_s": 90.0,
        "per_job_s": {"0": 60.0, "1": 30.0},
    }


def test_the_cli_writes_the_floor_to_bench_json(tmp_path, data_dir, capsys):
    out = tmp_path / "bench.json"
    args = ["--floor", "bias_vs_width", "--quick", "--out", str(out)]
    overrides = [f"paths.data_dir={data_dir}", "model.width=2", "optimizer.lr=0.01"]
    cli.main([*args, *(a for o in overrides for a in ("--override", o))])
    report = json.loads(out.read_text())
    assert report["floor"]["jobs"] == 2
    assert report["floor"]["floor_s"] > 0
    assert "floor:" in capsys.readouterr().out
