"""Sweeps on Hydra's launcher and sweeper plugins, and W&B sweeps, as a user runs them."""

import itertools
import json
import os

import joblib
import pytest
import yaml
from wandb.sdk.launch.sweeps.utils import create_sweep_command, create_sweep_command_args

from biaslab.config.compose import compose_with_hydra as _compose

from .conftest import ROOT, run_cli

TINY = ["trainer.max_steps=20", "trainer.val_check_interval=10", "logger=none"]


@pytest.mark.slow
def test_joblib_launcher_runs_jobs_in_parallel_processes(tmp_path, data_dir):
    sweep = tmp_path / "jl"
    proc = run_cli(
        [
            "-m",
            "hydra/launcher=joblib",
            "hydra.launcher.n_jobs=2",
            "model.width=8,32",
            *TINY,
            f"paths.data_dir={data_dir}",
            f"hydra.sweep.dir={sweep}",
        ],
        tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    records = [json.loads(p.read_text()) for p in sweep.glob("*/results.json")]
    assert sorted(r["config"]["model"]["width"] for r in records) == [8, 32]
    # joblib gives each of its workers cores // n_jobs threads, and the record says so
    if "OMP_NUM_THREADS" not in os.environ:
        assert {r["torch_threads"] for r in records} == {max(1, joblib.cpu_count() // 2)}


@pytest.mark.slow
def test_optuna_search_maximizes_val_acc(tmp_path, data_dir):
    sweep = tmp_path / "opt"
    proc = run_cli(
        [
            "hparams_search=optuna",
            "hydra.sweeper.n_trials=3",
            *TINY,
            f"paths.data_dir={data_dir}",
            f"hydra.sweep.dir={sweep}",
        ],
        tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    records = [json.loads(p.read_text()) for p in sweep.glob("*/results.json")]
    assert len(records) == 3
    best = (sweep / "optimization_results.yaml").read_text()
    top = max(r["metrics"]["val/acc"] for r in records)
    assert f"best_value: {top}" in best


@pytest.mark.slow
def test_submitit_local_launcher_runs_each_job_in_its_own_process(tmp_path, data_dir):
    sweep = tmp_path / "sub"
    proc = run_cli(
        [
            "-m",
            "hydra/launcher=submitit_local",
            "model.width=8,16",
            *TINY,
            f"paths.data_dir={data_dir}",
            f"hydra.sweep.dir={sweep}",
        ],
        tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    records = [json.loads(p.read_text()) for p in sorted(sweep.glob("*/results.json"))]
    assert [r["status"] for r in records] == ["completed", "completed"]
    assert [r["config"]["model"]["width"] for r in records] == [8, 16]
    # submitit's record of each job, in a folder named after the job's process id
    assert len([p for p in sweep.glob(".submitit/*") if p.name.isdigit()]) == 2


def test_slurm_launcher_config_asks_one_task_per_gpu():
    launcher = _compose(["hydra/launcher=slurm", "hydra.launcher.gpus_per_node=4"]).hydra.launcher
    assert launcher._target_.endswith("submitit_launcher.SlurmLauncher")
    assert launcher.tasks_per_node == launcher.gpus_per_node == 4
    assert launcher.nodes == 1


def _agent_commands(sweep: dict):
    """The command lines a W&B agent runs for a grid sweep, as wandb's agent builds them."""
    params = sweep["parameters"]
    swept = {k: v["values"] for k, v in params.items() if "values" in v}
    fixed = {k: v["value"] for k, v in params.items() if "value" in v}
    for combo in itertools.product(*swept.values()):
        run = {**dict(zip(swept, combo, strict=True)), **fixed}
        macros = create_sweep_command_args({"args": {k: {"value": v} for k, v in run.items()}})
        macros |= {
            "env": ["/usr/bin/env"],
            "interpreter": ["python"],
            "program": [sweep["program"]],
        }
        command = []
        for chunk in create_sweep_command(list(sweep["command"])):
            is_macro = chunk.startswith("${") and chunk.endswith("}")
            command += macros[chunk[2:-1]] if is_macro else [chunk]
        yield run, command


def test_wandb_sweep_runs_train_py_with_hydra_overrides():
    sweep = yaml.safe_load((ROOT / "sweeps" / "bias_vs_width.yaml").read_text())
    assert sweep["method"] == "grid" and (ROOT / sweep["program"]).is_file()
    runs = list(_agent_commands(sweep))
    assert len(runs) == 2 * 7 * 5
    assert all(command[:3] == ["/usr/bin/env", "python", "train.py"] for _, command in runs)
    for run, command in runs[::10] + runs[-1:]:  # every width and bias, seeds 0 and 4
        cfg = _compose(command[3:])  # what train.py's Hydra makes of the agent's arguments
        assert cfg.model.bias is run["model.bias"]
        assert cfg.model.width == run["model.width"] and cfg.seed == run["seed"]
        assert cfg.model.norm == "none" and cfg.task_name == "bias_vs_width"
