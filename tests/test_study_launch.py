"""A look's jobs that are several sweeps (the two arms chose different learning rates) run side
by side under joblib's n_jobs, never more jobs at once than it allows; other launchers run them
one after the other."""

from __future__ import annotations

import subprocess
import time

import pytest

from biaslab.study import launch
from biaslab.study.cli import main
from biaslab.study.plan import read

JOBLIB = ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"]


@pytest.mark.parametrize(
    "launcher, sizes, expected",
    [
        (JOBLIB, [1, 1], (2, ["hydra/launcher=joblib", "hydra.launcher.n_jobs=1"])),
        (JOBLIB, [2], (1, JOBLIB)),
        (JOBLIB, [1] * 5, (2, ["hydra/launcher=joblib", "hydra.launcher.n_jobs=1"])),
        (["hydra/launcher=joblib", "hydra.launcher.n_jobs=4"], [2, 1],
         (2, ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"])),
        # a sweep larger than its share would wait longer than one after the other
        (["hydra/launcher=joblib", "hydra.launcher.n_jobs=4"], [8, 1],
         (1, ["hydra/launcher=joblib", "hydra.launcher.n_jobs=4"])),
        (JOBLIB, [2, 1], (1, JOBLIB)),
        (["hydra/launcher=joblib", "hydra.launcher.n_jobs=1"], [1, 1],
         (1, ["hydra/launcher=joblib", "hydra.launcher.n_jobs=1"])),
        ([], [1, 1], (1, [])),  # Hydra's basic launcher: one job at a time, as the plan says
        (["hydra/launcher=submitit_slurm"], [1, 1], (1, ["hydra/launcher=submitit_slurm"])),
    ],
)  # fmt: skip
def test_sweeps_share_the_joblib_workers(launcher, sizes, expected):
    assert launch.side_by_side(launcher, sizes) == expected


def test_a_sweep_counts_its_jobs():
    assert launch.size(["model.bias=true,false", "optimizer.lr=0.01", "seed=1,2,3"]) == 6


class FakeSweep:
    """A sweep's process that ends once ``ends_after`` seconds have passed."""

    started: list[FakeSweep] = []

    def __init__(self, cmd, **kw):
        self.cmd, self.t0, self.running_then = cmd, time.monotonic(), None
        FakeSweep.started.append(self)

    def poll(self):
        if time.monotonic() - self.t0 < 0.5:
            return None
        if self.running_then is None:  # how many sweeps had started when this one ended
            self.running_then = len(FakeSweep.started)
        return 0


def test_the_two_arms_of_a_look_at_different_lrs_run_together(tmp_path, monkeypatch):
    out = tmp_path / "s"
    args = ["plan", "+experiment=bias_vs_norm", "model.bias=true,false", "model.width=8"]
    seeds = ["--tuning-seed=9000", "--confirm-seed=9100"]  # never published
    launcher = "--launcher=hydra/launcher=joblib hydra.launcher.n_jobs=2"
    assert main([*args, *seeds, "--cap=3", "--grid=0.01,0.03", launcher, f"--out={out}"]) == 0
    plan, h = read(out)
    FakeSweep.started = []
    monkeypatch.setattr(subprocess, "Popen", FakeSweep)
    jobs = [
        (("model.bias", "true"), ("optimizer.lr", "0.01"), ("seed", "9100")),
        (("model.bias", "false"), ("optimizer.lr", "0.03"), ("seed", "9100")),
    ]
    launch.launch(plan, h, out, "look1", jobs)
    seen = sorted([c for c in s.cmd if c.startswith(("hydra.launcher.", "optimizer.lr="))]
                  for s in FakeSweep.started)  # fmt: skip
    assert seen == [
        ["hydra.launcher.n_jobs=1", "optimizer.lr=0.01"],
        ["hydra.launcher.n_jobs=1", "optimizer.lr=0.03"],
    ]
    assert [s.running_then for s in FakeSweep.started] == [2, 2]  # side by side
    assert sorted(p.name for p in (out / "runs").iterdir()) == ["look1", "look1-r2"]


@pytest.mark.parametrize("ends_by_itself", [True, False])
def test_an_interrupted_launch_starts_no_more_sweeps_and_ends_its_own(
    tmp_path, monkeypatch, ends_by_itself
):
    """Ctrl-C while the first of two sweeps runs: the second never starts; the first, which
    the terminal's signal reached too, may end by itself (its runs record `interrupted`), and
    is terminated only if it does not."""
    out = tmp_path / "s"
    args = ["plan", "+experiment=bias_vs_norm", "model.bias=true,false", "model.width=8"]
    seeds = ["--tuning-seed=9000", "--confirm-seed=9100"]
    assert main([*args, *seeds, "--cap=3", "--grid=0.03", f"--out={out}"]) == 0
    plan, h = read(out)  # the basic launcher: one sweep at a time
    started, stopped = [], []

    class Running:
        def __init__(self, cmd, **kw):
            started.append(cmd)

        def poll(self):
            raise KeyboardInterrupt  # Ctrl-C while the first sweep runs

        def wait(self, timeout=None):
            if not ends_by_itself and not stopped:
                raise subprocess.TimeoutExpired("train.py", timeout)
            return 0

        def terminate(self):
            stopped.append(True)

    monkeypatch.setattr(subprocess, "Popen", Running)
    jobs = [
        (("model.bias", "true"), ("optimizer.lr", "0.03"), ("seed", "9100")),
        (("model.bias", "false"), ("optimizer.lr", "0.01"), ("seed", "9100")),
    ]
    with pytest.raises(KeyboardInterrupt):
        launch.launch(plan, h, out, "look1", jobs)
    assert len(started) == 1
    assert stopped == ([] if ends_by_itself else [True])
