"""A look's jobs that are several sweeps (the two arms chose different learning rates) run side
by side under joblib's n_jobs, never more jobs at once than it allows; other launchers run them
one after the other."""

from __future__ import annotations

import subprocess
import threading

import pytest

from biaslab.study import launch
from biaslab.study.cli import main
from biaslab.study.plan import read

JOBLIB = ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"]


@pytest.mark.parametrize(
    "launcher, sweeps, expected",
    [
        (JOBLIB, 2, (2, ["hydra/launcher=joblib", "hydra.launcher.n_jobs=1"])),
        (JOBLIB, 1, (1, JOBLIB)),
        (JOBLIB, 5, (2, ["hydra/launcher=joblib", "hydra.launcher.n_jobs=1"])),
        (["hydra/launcher=joblib", "hydra.launcher.n_jobs=4"], 2,
         (2, ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"])),
        (["hydra/launcher=joblib", "hydra.launcher.n_jobs=1"], 2,
         (1, ["hydra/launcher=joblib", "hydra.launcher.n_jobs=1"])),
        ([], 2, (1, [])),  # Hydra's basic launcher: one job at a time, as the plan says
        (["hydra/launcher=submitit_slurm"], 2, (1, ["hydra/launcher=submitit_slurm"])),
    ],
)  # fmt: skip
def test_sweeps_share_the_joblib_workers(launcher, sweeps, expected):
    assert launch.side_by_side(launcher, sweeps) == expected


def test_the_two_arms_of_a_look_at_different_lrs_run_together(tmp_path, monkeypatch):
    out = tmp_path / "s"
    args = ["plan", "+experiment=bias_vs_norm", "model.bias=true,false", "model.width=8"]
    seeds = ["--tuning-seed=9000", "--confirm-seed=9100"]  # never published
    launcher = "--launcher=hydra/launcher=joblib hydra.launcher.n_jobs=2"
    assert main([*args, *seeds, "--cap=3", "--grid=0.01,0.03", launcher, f"--out={out}"]) == 0
    plan, h = read(out)
    both = threading.Barrier(2, timeout=10)  # broken unless the two sweeps overlap
    seen = []

    def run(cmd, **kw):
        seen.append([c for c in cmd if c.startswith(("hydra.launcher.", "optimizer.lr="))])
        both.wait()

    monkeypatch.setattr(subprocess, "run", run)
    jobs = [
        (("model.bias", "true"), ("optimizer.lr", "0.01"), ("seed", "9100")),
        (("model.bias", "false"), ("optimizer.lr", "0.03"), ("seed", "9100")),
    ]
    launch.launch(plan, h, out, "look1", jobs)
    assert sorted(seen) == [
        ["hydra.launcher.n_jobs=1", "optimizer.lr=0.01"],
        ["hydra.launcher.n_jobs=1", "optimizer.lr=0.03"],
    ]
    assert sorted(p.name for p in (out / "runs").iterdir()) == ["look1", "look1-r2"]
