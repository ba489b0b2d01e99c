"""A results.json never lies: a resume checks its checkpoint, a rerun never replaces a finished
run, a signal ends a run as interrupted, a full disk leaves no partial checkpoint."""

from __future__ import annotations

import errno
import json
import os
import signal

import lightning as L
import pytest
import torch

from biaslab.config import ConfigError
from biaslab.records.results import read_results
from biaslab.resume.signals import Interrupted
from biaslab.run.train import main, train

from .helpers import Crash

SMALL = ("model.width=2",)


def _files(folder):
    """Every file under ``folder`` with its bytes: what a refused command must not change."""
    return {p: p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


class Signal(L.Callback):
    """Sends this process ``signum`` once, in the middle of step ``step`` (before its end)."""

    def __init__(self, step: int, signum: int = signal.SIGTERM):
        self.step, self.signum, self.sent = step, signum, False

    def on_before_optimizer_step(self, trainer, pl_module, optimizer):
        if trainer.global_step + 1 == self.step and not self.sent:
            self.sent = True
            os.kill(os.getpid(), self.signum)


def test_resume_refuses_a_checkpoint_of_another_config(make_cfg, tmp_path):
    train(make_cfg(*SMALL))
    rec = read_results(tmp_path)
    ckpt = tmp_path / "checkpoints" / "last.ckpt"
    assert len(rec["fingerprint"]) == 16
    assert torch.load(ckpt, weights_only=True)["fingerprint"]["digest"] == rec["fingerprint"]
    before = _files(tmp_path)
    cases = [
        (("optimizer.lr=0.0001",), ["optimizer.lr: 0.01 there, 0.0001 here"]),
        (("seed=7",), ["seed: 0 there, 7 here"]),
        (("model.width=8", "trainer.max_steps=50"), ["model.width", "trainer.max_steps"]),
    ]
    for overrides, named in cases:
        with pytest.raises(ConfigError) as e:
            train(make_cfg(*SMALL, "resume=true", *overrides))
        assert str(e.value).startswith("resume=true is not allowed"), str(e.value)
        assert all(n in str(e.value) for n in named), str(e.value)
    assert _files(tmp_path) == before  # nothing touched: the record and the checkpoint


def test_a_rerun_never_replaces_a_finished_run(make_cfg, tmp_path, capsys):
    first = train(make_cfg(*SMALL))
    before = _files(tmp_path)
    with pytest.raises(SystemExit) as e:
        main(make_cfg(*SMALL))
    assert e.value.code == 2
    line = capsys.readouterr().err.strip()
    assert "already holds a completed run" in line and "resume=true" in line, line
    assert "overwrite=true" in line and "\n" not in line
    assert _files(tmp_path) == before

    again = train(make_cfg(*SMALL, "resume=true"))  # same config, finished: nothing to do
    assert "nothing to do" in capsys.readouterr().err
    assert again["metrics"] == first["metrics"] and again["status"] == "completed"
    assert _files(tmp_path) == before

    train(make_cfg(*SMALL, "seed=1", "overwrite=true"))  # asked for: replaced
    assert read_results(tmp_path)["seed"] == 1


def test_sigterm_stops_at_the_step_end_saves_and_records_interrupted(make_cfg, tmp_path):
    args = (*SMALL, "trainer.val_check_interval=10")
    whole = train(make_cfg(*args, output_dir=tmp_path / "whole"))
    cut = tmp_path / "cut"
    with pytest.raises(Interrupted) as e:
        train(make_cfg(*args, output_dir=cut), callbacks=[Signal(20)])
    assert e.value.exit_code == 143
    rec = read_results(cut)
    assert rec["status"] == "interrupted"
    assert rec["interrupted"]["signal"] == "SIGTERM" and rec["interrupted"]["step"] == 20
    assert torch.load(cut / "checkpoints" / "last.ckpt", weights_only=True)["global_step"] == 20
    # the step's validation ran before the stop, and the resumed run misses nothing
    resumed = train(make_cfg(*args, "resume=true", output_dir=cut))
    assert resumed["metrics"] == whole["metrics"] | {"epochs": resumed["metrics"]["epochs"]}
    assert read_results(cut)["status"] == "completed"


def test_sigint_exits_130_with_one_line(make_cfg, tmp_path, capsys, monkeypatch):
    from biaslab.data import mnist1d

    original = mnist1d.MNIST1D.setup

    def setup(self, stage=None):  # main() takes no callbacks: Ctrl+C while the data loads
        os.kill(os.getpid(), signal.SIGINT)
        return original(self, stage)

    monkeypatch.setattr(mnist1d.MNIST1D, "setup", setup)
    with pytest.raises(SystemExit) as e:
        main(make_cfg(*SMALL, "checkpoint.at_end=false"))
    assert e.value.code == 130
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("interrupted by SIGINT"), lines
    assert read_results(tmp_path)["status"] == "interrupted"
    assert not (tmp_path / "checkpoints").exists()  # checkpointing off: none saved


def test_resume_runs_the_validation_of_the_checkpoint_step(make_cfg, tmp_path):
    # issue 14's case: the checkpoint at step 50 coincides with a validation; a checkpoint
    # taken before it resumes past it, and the best step came out as 100 instead of 50
    args = (
        "model.width=2",
        "seed=1",
        "trainer.max_steps=100",
        "trainer.val_check_interval=50",
        "checkpoint.every_n_steps=50",
    )
    whole = train(make_cfg(*args, output_dir=tmp_path / "whole"))
    killed = tmp_path / "killed"
    with pytest.raises(RuntimeError, match="killed at step 51"):
        train(make_cfg(*args, output_dir=killed), callbacks=[Crash(51)])
    resumed = train(make_cfg(*args, "resume=true", output_dir=killed))
    for key in ("val/acc_best", "val/acc_best_step", "val/acc", "test/acc", "steps"):
        assert resumed["metrics"][key] == whole["metrics"][key], key


def test_a_full_disk_leaves_no_partial_checkpoint(make_cfg, tmp_path, monkeypatch, capsys):
    from biaslab.resume import checkpointing

    written = []

    def full(obj, f, *args, **kwargs):
        written.append(f.name)
        f.write(b"partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(checkpointing.torch, "save", full)
    with pytest.raises(SystemExit) as e:
        main(make_cfg(*SMALL))
    assert e.value.code == 1
    ckpt = tmp_path / "checkpoints" / "last.ckpt"
    assert capsys.readouterr().err.splitlines() == [f"error: no space left on device: {ckpt}"]
    assert written and all(os.path.dirname(p) == str(ckpt.parent) for p in written)
    assert not list(ckpt.parent.iterdir())  # neither last.ckpt nor the partial temp file
    rec = read_results(tmp_path)
    assert rec["status"] == "failed"
    assert rec["error"]["message"] == f"no space left on device: {ckpt}"


def test_results_json_is_strict_and_readable(make_cfg, tmp_path):
    train(make_cfg(*SMALL, "trainer.max_steps=2", "trainer.val_check_interval=5"))
    text = (tmp_path / "results.json").read_text()
    json.loads(text, parse_constant=lambda c: pytest.fail(f"non-JSON constant {c}"))
    assert json.loads(text)["metrics"]["val/acc_best"] is None  # never validated: -inf
    assert (tmp_path / "results.json").stat().st_mode & 0o777 == 0o644


def test_a_crashed_run_with_a_schedule_resumes_to_the_same_metrics(make_cfg, tmp_path):
    # the checkpoint (step 25) falls between validations (every 20): the learning-rate
    # schedule must resume at the step it was saved at, not one off
    import lightning as L

    from biaslab.run.train import train

    base = [
        "trainer.max_steps=60",
        "trainer.val_check_interval=20",
        "checkpoint.every_n_steps=25",
        "scheduler=cosine",
        "model.width=4",
    ]

    class Crash(L.Callback):
        def on_train_batch_end(self, trainer, *args):
            if trainer.global_step == 40:
                raise RuntimeError("killed at step 40")

    whole = train(make_cfg(*base, output_dir=tmp_path / "whole"))["metrics"]
    with pytest.raises(RuntimeError):
        train(make_cfg(*base, output_dir=tmp_path / "cut"), callbacks=[Crash()])
    resumed = train(make_cfg(*base, "resume=true", output_dir=tmp_path / "cut"))["metrics"]
    for key in ("test/acc", "test/loss", "val/acc_best", "val/acc_best_step", "steps"):
        assert resumed[key] == whole[key], key
