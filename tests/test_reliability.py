"""Faults a long sweep meets: diverged runs, failed jobs, bad values."""

import json
import math

import pytest

from biaslab.records.results import read_results
from biaslab.run.train import train

from .conftest import run_cli, start_cli


def test_a_diverging_run_stops_early_and_says_so(make_cfg, tmp_path):
    # lr 1e6 with plain SGD blows the weights up within a few steps
    out = train(
        make_cfg(
            "optimizer=sgd",
            "optimizer.lr=1e6",
            "optimizer.momentum=0.0",
            "optimizer.nesterov=false",
            "trainer.max_steps=200",
            "trainer.val_check_interval=100",
        )
    )
    rec = read_results(tmp_path)
    assert rec["status"] == "diverged"
    d = rec["divergence"]
    assert 1 <= d["step"] < 200
    assert d["loss"] is None  # NaN/inf: null in strict JSON; the message names it
    assert "nan" in d["message"] or "inf" in d["message"]
    assert d["last_finite_loss"] is None or math.isfinite(d["last_finite_loss"])
    assert rec["metrics"]["steps"] == d["step"] < 200
    assert out["status"] == "diverged"
    assert math.isnan(out["optimized"])


def test_checkpointing_does_not_change_what_a_run_learns(make_cfg, tmp_path):
    """Saving last.ckpt mid-run is bookkeeping (the report pools runs that differ only in
    checkpoint.*): a packed job with dropout, several steps a call, learns the same."""
    base = [
        "trainer.max_steps=60",
        "model.width=4",
        "model.dropout=0.1",
        "train.parallel_seeds=2",
        "train.steps_per_call=5",
    ]
    plain = train(make_cfg(*base, "checkpoint.at_end=false", output_dir=tmp_path / "plain"))
    saved = train(make_cfg(*base, "checkpoint.every_n_steps=10", output_dir=tmp_path / "saved"))
    assert list((tmp_path / "saved").rglob("last.ckpt")) and not any(
        (tmp_path / "plain").rglob("*.ckpt")
    )
    assert [m["metrics"] for m in saved["members"]] == [m["metrics"] for m in plain["members"]]


@pytest.mark.slow
def test_a_failing_job_does_not_stop_the_sweep(tmp_path, data_dir):
    # optimizer.lr=0 passes no rule but makes one job fail inside Lightning/torch? No: use a
    # value only the model rejects at build time: a kernel wider than the signal.
    sweep = tmp_path / "multirun"
    proc = run_cli(
        [
            "-m",
            "model.kernel_size=3,99",
            "trainer.max_steps=10",
            "trainer.val_check_interval=5",
            "logger=none",
            f"paths.data_dir={data_dir}",
            f"hydra.sweep.dir={sweep}",
        ],
        tmp_path,
    )
    assert proc.returncode != 0  # the sweep as a whole reports the failure ...
    statuses = {}
    for path in sorted(sweep.glob("*/results.json")):
        rec = json.loads(path.read_text())
        statuses[rec["config"]["model"]["kernel_size"]] = rec["status"]
    assert statuses == {3: "completed", 99: "failed"}  # ... but ran every job
    assert "1 of 2 jobs failed or diverged" in proc.stderr


@pytest.mark.slow
def test_a_killed_run_resumes_to_the_same_metrics(tmp_path, data_dir):
    import signal
    import subprocess
    import time

    args = [
        "trainer.max_steps=3000",
        "trainer.val_check_interval=500",
        "logger=none",
        "trainer.deterministic=true",
        "checkpoint.every_n_steps=500",  # with the validation every 500: the same steps
        f"paths.data_dir={data_dir}",
    ]
    # 3,000 deterministic steps twice: generous limits, for a machine shared with sweeps
    whole = run_cli([*args, f"hydra.run.dir={tmp_path / 'whole'}"], tmp_path, timeout=900)
    assert whole.returncode == 0, whole.stderr[-2000:]

    killed_dir = tmp_path / "killed"
    proc = start_cli(
        [*args, f"hydra.run.dir={killed_dir}"],
        tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    ckpt = killed_dir / "checkpoints" / "last.ckpt"
    deadline = time.monotonic() + 600
    while not ckpt.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)  # let the step counter move past the checkpoint (and its validation)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be killed"

    resumed = run_cli([*args, f"hydra.run.dir={killed_dir}", "resume=true"], tmp_path, timeout=900)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    a = json.loads((tmp_path / "whole" / "results.json").read_text())
    b = json.loads((killed_dir / "results.json").read_text())
    assert b["resumed_from"] and b["status"] == "completed"
    for key in ("test/acc", "test/loss", "val/acc_best", "steps"):
        assert a["metrics"][key] == b["metrics"][key], key
