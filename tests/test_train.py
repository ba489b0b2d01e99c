"""End-to-end runs: in-process for the metrics, as a subprocess for the user's commands."""

import json

import pytest
import torch

from biaslab.records.results import read_results
from biaslab.run.train import train

from .conftest import run_cli
from .wandb_records import run_contents


def test_training_learns_mnist1d_and_writes_results(make_cfg, tmp_path):
    cfg = make_cfg("trainer.max_steps=600", "trainer.val_check_interval=200")
    out = train(cfg)
    assert out["metrics"]["test/acc"] > 0.5  # chance is 0.1
    assert out["optimized"] == pytest.approx(out["metrics"]["val/acc"])
    rec = read_results(tmp_path)
    assert rec["status"] == "completed"
    assert rec["seed"] == 0
    assert rec["metrics"]["steps"] == 600
    assert rec["metrics"]["test/acc"] == out["metrics"]["test/acc"]
    assert 0 < rec["metrics"]["val/acc_best"] <= 1
    assert rec["metrics"]["val/acc_best_step"] in (200, 400, 600)
    assert rec["params"]["params/total"] == 5210
    assert rec["config"]["model"]["width"] == 25
    assert rec["device"] == "cpu"
    assert rec["timing"]["fit_s"] > 0 and rec["timing"]["total_s"] >= rec["timing"]["fit_s"]
    assert {"torch", "lightning", "hydra-core"} <= set(rec["versions"])
    assert rec["torch_threads"] == torch.get_num_threads()  # timing means little without it
    assert not list(tmp_path.glob(".results.*"))  # the atomic write left no temp file


def test_same_seed_same_metrics(make_cfg, tmp_path):
    a = train(make_cfg("seed=3", output_dir=tmp_path / "a"))["metrics"]
    b = train(make_cfg("seed=3", output_dir=tmp_path / "b"))["metrics"]
    c = train(make_cfg("seed=4", output_dir=tmp_path / "c"))["metrics"]
    assert a["test/loss"] == b["test/loss"]
    assert a["test/loss"] != c["test/loss"]


def test_digits_mlp_and_csv_logger(make_cfg, tmp_path):
    out = train(make_cfg("data=digits", "model=mlp", "logger=csv", "trainer.max_steps=200"))
    assert out["metrics"]["test/acc"] > 0.5
    assert list(tmp_path.rglob("metrics.csv"))


def test_a_failed_run_still_leaves_results(make_cfg, tmp_path, monkeypatch):
    from biaslab.tasks import base as task

    def explode(self, batch, batch_idx):
        raise RuntimeError("boom at step 0")

    monkeypatch.setattr(task.Classifier, "training_step", explode)
    with pytest.raises(RuntimeError, match="boom"):
        train(make_cfg())
    rec = read_results(tmp_path)
    assert rec["status"] == "failed"
    assert rec["error"]["type"] == "RuntimeError" and "boom" in rec["error"]["message"]
    assert rec["params"]["params/total"] == 5210


@pytest.mark.slow
def test_width_sweep_gives_three_runs_three_results_three_wandb_runs(tmp_path, data_dir):
    sweep = tmp_path / "multirun"
    proc = run_cli(
        [
            "model.bias=false",
            "-m",
            "model.width=8,32,128",
            "trainer.max_steps=30",
            "trainer.val_check_interval=15",
            f"paths.data_dir={data_dir}",
            f"hydra.sweep.dir={sweep}",
        ],
        tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = sorted(sweep.glob("*/results.json"))
    assert [p.parent.name for p in results] == ["0", "1", "2"]
    run_files = sorted(sweep.glob("*/wandb/offline-run-*/run-*.wandb"))
    assert len(run_files) == 3
    seen = {}
    for res, run_file in zip(results, run_files, strict=True):
        assert run_file.is_relative_to(res.parent)  # each job's run in its own folder
        rec = json.loads(res.read_text())
        config, summary = run_contents(run_file)
        assert config["model"]["bias"] is False
        width = config["model"]["width"]
        assert width == rec["config"]["model"]["width"]
        assert summary["test/acc"] == pytest.approx(rec["metrics"]["test/acc"])
        assert summary["params/total"] == rec["params"]["params/total"]
        keys = [o.split("=")[0] for o in rec["overrides"]]
        assert keys == [
            "model.bias",
            "model.width",
            "trainer.max_steps",
            "trainer.val_check_interval",
            "paths.data_dir",
        ]
        assert f"model.width={width}" in rec["overrides"]
        seen[width] = rec["params"]["params/total"]
    assert sorted(seen) == [8, 32, 128]
    assert seen[8] < seen[32] < seen[128]
    assert "test/acc" in proc.stdout  # the summary is printed for every job
    # W&B warned of its retired `anonymous` setting, which Lightning passed as None, every run
    assert "anonymous setting" not in proc.stdout + proc.stderr
