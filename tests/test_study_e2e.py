"""A tiny study end to end, with real training: ``plan`` then ``run``; the same plan killed
with SIGKILL during stage 2 and run again reaches the same decisions, number for number."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

SRC = str(Path(__file__).resolve().parents[1] / "src")
PLAN = [
    "plan",
    "+experiment=bias_vs_width",
    "model.width=4,8",
    "optimizer.lr=0.03",
    "trainer.max_steps=50",
    "trainer.val_check_interval=50",
    "data.test_samples=500",
    "trainer=cpu",
    "--tune=none",
    "--batch=3",
    "--cap=6",
    "--delta=0.05",
    "--name=tiny",
]


def study(*args: str, **kw) -> subprocess.Popen:
    path = os.pathsep.join([SRC, os.environ.get("PYTHONPATH", "")])
    # one thread per run: on a shared 2-core machine more only wait on each other
    env = {**os.environ, "PYTHONPATH": path, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "biaslab.study", *args]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, **kw)


def finish(p: subprocess.Popen) -> str:
    out, _ = p.communicate(timeout=900)
    assert p.returncode == 0, out.decode()
    return out.decode()


def verdicts(report: str) -> list[str]:
    return [line for line in report.splitlines() if line.startswith("| model.width=")]


@pytest.mark.slow
def test_killed_study_reaches_the_same_decisions(tmp_path):
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    for folder in (whole, killed):
        finish(study(*PLAN, f"--out={folder}"))
    assert (whole / "plan.sha256").read_text() == (killed / "plan.sha256").read_text()
    expected = finish(study("run", str(whole)))
    assert "decided at n =" in expected or "inconclusive at n =" in expected

    p = study("run", str(killed), start_new_session=True)
    deadline = time.time() + 600
    while not list((killed / "runs").glob("look1/*/seed=*/results.json")):
        assert p.poll() is None and time.time() < deadline
        time.sleep(0.2)
    os.killpg(p.pid, signal.SIGKILL)  # the study and the training it started, at once
    p.wait()
    assert len(list((killed / "runs").glob("look1/*/seed=*/results.json"))) < 12
    again = finish(study("run", str(killed)))
    assert verdicts(again) == verdicts(expected) and len(verdicts(expected)) == 2
    explored = [line for line in expected.splitlines() if line.startswith("Exploratory runs")]
    assert explored == ["Exploratory runs (outside the plan; in no verdict): 0"]
    assert explored[0] in again.splitlines()
    assert list((killed / "runs").glob("look1-r*"))  # the killed round ran again
