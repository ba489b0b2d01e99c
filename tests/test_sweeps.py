"""Sweeps on Hydra's launcher and sweeper plugins, as a user runs them."""

import json

import pytest

from .test_train import _run_cli

TINY = ["trainer.max_steps=20", "trainer.val_check_interval=10", "logger=none"]


@pytest.mark.slow
def test_joblib_launcher_runs_jobs_in_parallel_processes(tmp_path, data_dir):
    sweep = tmp_path / "jl"
    proc = _run_cli(["-m", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2",
                     "model.width=8,32", *TINY, f"paths.data_dir={data_dir}",
                     f"hydra.sweep.dir={sweep}"], tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    widths = sorted(json.loads(p.read_text())["config"]["model"]["width"]
                    for p in sweep.glob("*/results.json"))
    assert widths == [8, 32]


@pytest.mark.slow
def test_optuna_search_maximizes_val_acc(tmp_path, data_dir):
    sweep = tmp_path / "opt"
    proc = _run_cli(["hparams_search=optuna", "hydra.sweeper.n_trials=3", *TINY,
                     f"paths.data_dir={data_dir}", f"hydra.sweep.dir={sweep}"], tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    records = [json.loads(p.read_text()) for p in sweep.glob("*/results.json")]
    assert len(records) == 3
    best = (sweep / "optimization_results.yaml").read_text()
    top = max(r["metrics"]["val/acc"] for r in records)
    assert f"best_value: {top}" in best
