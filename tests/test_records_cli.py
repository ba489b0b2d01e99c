"""The record-integrity promises as a user meets them: ``python train.py`` killed, stopped or
given a secret."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import torch

from .conftest import run_cli, start_cli

QUICK = ["logger=none", "model.width=2", "trainer=cpu"]


def _wait(predicate, timeout: float = 240, proc=None) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        if proc is not None and proc.poll() is not None:
            return False
        time.sleep(0.1)
    return False


@pytest.mark.slow
def test_a_secret_override_is_refused_before_hydra_writes(tmp_path):
    run_dir = tmp_path / "run"
    proc = run_cli(
        [*QUICK, "+logger.settings.api_key=abcd1234secret", f"hydra.run.dir={run_dir}"],
        tmp_path,
    )
    assert proc.returncode == 2
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and "WANDB_API_KEY" in lines[0], lines
    assert "abcd1234secret" not in proc.stdout + proc.stderr
    assert not run_dir.exists() and not (tmp_path / "outputs").exists()


@pytest.mark.slow
def test_sigterm_stops_a_sweep_listing_what_completed(tmp_path, data_dir):
    sweep = tmp_path / "sweep"
    proc = start_cli(
        [
            "-m",
            *QUICK,
            "trainer.max_steps=20,100000,30",
            "trainer.val_check_interval=10",
            f"paths.data_dir={data_dir}",
            f"hydra.sweep.dir={sweep}",
        ],
        tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert _wait(
        lambda: (sweep / "0" / "results.json").exists() and (sweep / "1").exists(), proc=proc
    )
    time.sleep(3)  # job 1 is training
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err[-2000:]
    rec = json.loads((sweep / "1" / "results.json").read_text())
    assert rec["status"] == "interrupted" and rec["interrupted"]["signal"] == "SIGTERM"
    assert (sweep / "1" / "checkpoints" / "last.ckpt").exists()  # checkpoint.at_end: on
    assert not (sweep / "2").exists()  # the sweep stopped
    assert f"completed: {sweep / '0'}" in err
    assert "rerun the same command with resume=true" in err


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(c) for c in path.read_text().split()] if path.exists() else []


def _ranks(pid: int) -> list[int]:
    out = []
    for c in _children(pid):
        try:
            if b"spawn_main" in Path(f"/proc/{c}/cmdline").read_bytes():
                out.append(c)
        except OSError:
            pass
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split()[2]
    except OSError:
        return False
    return state != "Z"


def _training_ddp_run(tmp_path: Path, data_dir: Path, **popen):
    """A long ``trainer=ddp_cpu`` run, returned once its two ranks are training (its first
    checkpoint is there): (the main process, its run folder, the ranks' pids)."""
    run_dir = tmp_path / "run"
    proc = start_cli(
        [
            *QUICK,
            "trainer=ddp_cpu",
            "trainer.max_steps=100000",
            "trainer.val_check_interval=1000",
            "checkpoint.every_n_steps=20",
            f"paths.data_dir={data_dir}",
            f"hydra.run.dir={run_dir}",
        ],
        tmp_path,
        **popen,
    )
    assert _wait(lambda: (run_dir / "checkpoints" / "last.ckpt").exists(), proc=proc)
    ranks = _ranks(proc.pid)
    assert len(ranks) == 2
    return proc, run_dir, ranks


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads /proc")
def test_ddp_ranks_die_with_their_parent_and_write_nothing(tmp_path, data_dir):
    proc, run_dir, ranks = _training_ddp_run(
        tmp_path, data_dir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    try:
        assert _wait(lambda: not any(_alive(r) for r in ranks), timeout=30)
    finally:
        for r in ranks:  # never leave them running, whatever the outcome
            if _alive(r):
                os.kill(r, signal.SIGKILL)
    time.sleep(2)
    assert not (run_dir / "results.json").exists()


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads /proc")
def test_sigterm_to_a_ddp_parent_stops_its_ranks_at_one_step_and_records_it(tmp_path, data_dir):
    # as a one-device run ends: the ranks stop together at a step's end, the checkpoint is
    # saved there, and the record says which step
    proc, run_dir, ranks = _training_ddp_run(
        tmp_path, data_dir, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    proc.send_signal(signal.SIGTERM)
    try:
        _, err = proc.communicate(timeout=120)
        assert _wait(lambda: not any(_alive(r) for r in ranks), timeout=30)
    finally:
        for r in ranks:  # never leave them running, whatever the outcome
            if _alive(r):
                os.kill(r, signal.SIGKILL)
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 143, err[-2000:]
    record = json.loads((run_dir / "results.json").read_text())
    assert record["status"] == "interrupted"  # never "completed" for a run that was stopped
    stopped = record["interrupted"]
    ckpt = run_dir / "checkpoints" / "last.ckpt"
    assert stopped["signal"] == "SIGTERM" and stopped["checkpoint"] == str(ckpt)
    assert isinstance(stopped["step"], int) and stopped["step"] > 0
    assert torch.load(ckpt, weights_only=True)["global_step"] == stopped["step"]
    assert err.splitlines()[-1] == (
        f"interrupted by SIGTERM at step {stopped['step']} in {run_dir}: recorded as "
        "interrupted; resume with resume=true"
    ), err[-2000:]
    assert "Traceback" not in err, err[-3000:]


@pytest.mark.slow
def test_rerunning_a_sweep_with_resume_skips_finished_jobs_and_runs_the_rest(tmp_path):
    sweep = tmp_path / "sweep"
    args = [
        *QUICK,
        "trainer.max_steps=20",
        "trainer.val_check_interval=10",
        f"hydra.sweep.dir={sweep}",
    ]
    first = run_cli(["-m", *args, "seed=0,1"], tmp_path)
    assert first.returncode == 0, first.stderr[-2000:]
    done = sweep / "0" / "results.json"
    before = (done.read_bytes(), done.stat().st_mtime_ns)
    # job 1 "never ran": its record and checkpoint are gone
    (sweep / "1" / "results.json").unlink()
    (sweep / "1" / "checkpoints" / "last.ckpt").unlink()

    again = run_cli(["-m", *args, "seed=0,1", "resume=true"], tmp_path)
    assert again.returncode == 0, again.stderr[-2000:]
    assert (done.read_bytes(), done.stat().st_mtime_ns) == before  # left untouched
    assert "nothing to do" in again.stderr
    rerun = json.loads((sweep / "1" / "results.json").read_text())
    assert rerun["status"] == "completed" and rerun["seed"] == 1

    # without resume=true the finished job is refused, not replaced
    refused = run_cli(["-m", *args, "seed=0"], tmp_path)
    assert refused.returncode != 0
    assert (done.read_bytes(), done.stat().st_mtime_ns) == before
