"""What the per-step savings of biaslab.tasks.base must not change: the training loss still reaches
the logger at its cadence, the hooks still see their names, and CUDA checks on a machine with
a GPU keep Lightning's fork-safe setting. No timing thresholds."""

import csv
import math

import lightning as L
import pytest
import torch
from lightning.pytorch.profilers import SimpleProfiler

from biaslab.run.job import NoProfiler
from biaslab.run.train import train
from biaslab.tasks import base as task


def _logged_steps(metrics_csv, name: str) -> list[int]:
    with open(metrics_csv) as f:
        return [int(r["step"]) for r in csv.DictReader(f) if r.get(name)]


def test_train_loss_still_logged_at_the_logger_cadence(make_cfg, tmp_path):
    cfg = make_cfg(
        "logger=csv",
        "trainer.max_steps=40",
        "trainer.log_every_n_steps=10",
        "trainer.val_check_interval=20",
    )
    out = train(cfg)
    (metrics_csv,) = tmp_path.rglob("metrics.csv")
    # Lightning writes the step index, 0-based: steps 10, 20, 30, 40 are rows 9, 19, 29, 39
    assert _logged_steps(metrics_csv, "train/loss") == [9, 19, 29, 39]
    assert _logged_steps(metrics_csv, "val/acc") == [19, 39]
    assert math.isfinite(out["metrics"]["train/loss"])
    assert 0 <= out["metrics"]["test/acc"] <= 1


def test_hook_name_is_a_plain_attribute():
    t = task.Classifier(torch.nn.Linear(3, 2), 2, lambda p: torch.optim.SGD(p, lr=0.1))
    t._current_fx_name = "training_step"
    assert t._current_fx_name == "training_step"
    assert "_current_fx_name" not in t._modules and "_current_fx_name" not in t._parameters
    t._current_fx_name = None
    assert t._current_fx_name is None
    # other attributes still go through nn.Module: a module becomes a submodule
    t.extra = torch.nn.Linear(2, 2)
    assert "extra" in t._modules
    assert set(t.state_dict()) == {
        "model.weight",
        "model.bias",
        "extra.weight",
        "extra.bias",
    }


def test_hooks_see_their_name_during_fit(make_cfg, monkeypatch):
    seen = set()
    original = task.Classifier.training_step

    def spy(self, batch, batch_idx):
        seen.add(self._current_fx_name)
        return original(self, batch, batch_idx)

    monkeypatch.setattr(task.Classifier, "training_step", spy)
    train(make_cfg("trainer.max_steps=3"))
    assert seen == {"training_step"}


def test_cuda_check_made_cheap_only_without_a_gpu(monkeypatch):
    monkeypatch.setenv("PYTORCH_NVML_BASED_CUDA_CHECK", "1")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert task.cheap_cuda_checks() is False
    assert task.os.environ["PYTORCH_NVML_BASED_CUDA_CHECK"] == "1"  # a GPU: Lightning's stays

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert task.cheap_cuda_checks() is True
    assert task.os.environ["PYTORCH_NVML_BASED_CUDA_CHECK"] == "0"
    assert task.cheap_cuda_checks() is False  # already done


def test_importing_the_task_leaves_cuda_checks_cheap_on_this_machine():
    import os

    if torch.cuda.is_available():
        pytest.skip("a GPU is visible: Lightning's fork-safe check is kept")
    assert os.environ.get("PYTORCH_NVML_BASED_CUDA_CHECK") != "1"


def test_a_batch_already_on_the_device_is_not_moved_again():
    from biaslab.data.base import TensorDataModule

    dm = TensorDataModule()
    batch = (torch.zeros(2, 3), torch.zeros(2, dtype=torch.long))
    assert dm.transfer_batch_to_device(batch, torch.device("cpu"), 0) is batch
    moved = dm.transfer_batch_to_device(batch, torch.device("meta"), 0)  # elsewhere: moved
    assert moved is not batch and {t.device.type for t in moved} == {"meta"}


def test_packed_seeds_still_train_and_log_each_member(make_cfg, tmp_path):
    cfg = make_cfg(
        "model.width=8", "train.parallel_seeds=2", "logger=csv", "trainer.log_every_n_steps=10"
    )
    out = train(cfg)
    assert [m["status"] for m in out["members"]] == ["completed", "completed"]
    for seed in (0, 1):
        (metrics_csv,) = (tmp_path / f"seed={seed}").rglob("metrics.csv")
        assert _logged_steps(metrics_csv, "train/loss") == [9, 19, 29, 39]


class _SeeProfiler(L.Callback):
    def on_fit_end(self, trainer, pl_module):
        self.profiler = trainer.profiler


def test_the_default_profiler_profiles_nothing_and_a_chosen_one_still_profiles(make_cfg, tmp_path):
    seen = _SeeProfiler()
    train(make_cfg("trainer.max_steps=5"), callbacks=[seen])
    assert type(seen.profiler) is NoProfiler
    # its profile() is one shared no-op context, not a new generator per call
    assert seen.profiler.profile("a") is seen.profiler.profile("b")

    chosen = _SeeProfiler()
    cfg = make_cfg("trainer.max_steps=5", "+trainer.profiler=simple", output_dir=tmp_path / "b")
    train(cfg, callbacks=[chosen])
    assert isinstance(chosen.profiler, SimpleProfiler)
    assert any("training_step" in action for action in chosen.profiler.recorded_durations)


@pytest.mark.parametrize("optimizer", ["adam", "adamw", "sgd"])
@pytest.mark.parametrize("packed", [False, True])
def test_optimizers_step_every_parameter_in_one_fused_kernel(make_cfg, optimizer, packed):
    from biaslab.run.job import build_task
    from biaslab.seed_parallel import parallel_seeds
    from biaslab.seed_parallel.members import members

    def built(*overrides):
        cfg = make_cfg(f"optimizer={optimizer}", *(["train.parallel_seeds=2"] * packed), *overrides)
        t, _, _ = build_task(cfg, members(cfg, parallel_seeds(cfg), []))
        out = t.configure_optimizers()
        return out["optimizer"] if isinstance(out, dict) else out

    # torch's default on a CPU is a Python loop over the parameters (~0.4 ms a ConvBase step)
    assert built().defaults["fused"] is True
    assert not built("optimizer.fused=null").defaults["fused"]  # torch's own choice again
