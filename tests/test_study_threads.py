"""A study fixes the thread count of its runs: a run reproduces bit for bit only at the same
count of torch's intra-op threads, so every job (a resumed study's included) gets the plan's
OMP_NUM_THREADS, whatever the shell that runs the study has set."""

from __future__ import annotations

import subprocess

from biaslab.study import launch
from biaslab.study.cli import main
from biaslab.study.plan import read


def _plan(tmp_path, *extra: str):
    out = tmp_path / "s"
    args = ["plan", "+experiment=bias_vs_norm", "model.bias=true,false", "model.width=8"]
    seeds = ["--tuning-seed=9000", "--confirm-seed=9100"]  # never published
    assert main([*args, *seeds, "--cap=3", "--grid=0.03", f"--out={out}", *extra]) == 0
    return read(out)


def test_jobs_run_at_the_plans_thread_count(tmp_path, monkeypatch):
    plan, h = _plan(tmp_path, "--threads=1")
    assert plan.threads == 1
    seen = []

    class Done:  # a sweep's process, ended at once
        def __init__(self, cmd, **kw):
            seen.append(kw["env"])

        def poll(self):
            return 0

    monkeypatch.setattr(subprocess, "Popen", Done)
    monkeypatch.setenv("OMP_NUM_THREADS", "2")  # a resumed study's shell, set otherwise
    jobs = [(("model.bias", "true"), ("model.width", "8"), ("seed", "100"))]
    launch.launch(plan, h, tmp_path / "s", "tune", jobs)
    assert [env["OMP_NUM_THREADS"] for env in seen] == ["1"]


def test_without_threads_the_callers_count_is_kept(tmp_path, monkeypatch):
    plan, _ = _plan(tmp_path)
    assert plan.threads is None
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    assert launch.environment(plan)["OMP_NUM_THREADS"] == "2"


def test_a_thread_count_below_one_is_refused(tmp_path, capsys):
    out = tmp_path / "s"
    args = ["plan", "+experiment=bias_vs_norm", "model.bias=true,false", "--threads=0"]
    assert main([*args, f"--out={out}"]) == 2
    assert not out.exists()
    assert capsys.readouterr().err.startswith("error: threads: ")
