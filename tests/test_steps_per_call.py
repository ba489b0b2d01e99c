"""``train.steps_per_call=K``: K optimizer steps per Lightning call train on the same batches
to the same weights and records as one step per call, log at the same steps, resume alike,
and refuse what they do not do."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import lightning as L
import pytest
import torch
from omegaconf import OmegaConf

from biaslab.bench.cases import SyntheticImages
from biaslab.config import ConfigError, validate
from biaslab.config.optimization import steps_per_call_fits
from biaslab.data import local_copy
from biaslab.records.results import find_results, read_results
from biaslab.resume import fingerprint
from biaslab.resume.rundir import CHECKPOINT
from biaslab.run.steps_per_call import KEY, resolve
from biaslab.run.train import train
from biaslab.tasks.guards import check_due

from .image_files import write_idx_folder

# 60 steps cross MNIST-1D's epoch of 36 batches inside a call; cosine and clipping are the
# parts of a step Lightning's automatic loop does and the task's own loop must redo
CLASSIFIER = [
    "logger=csv",
    "trainer.max_steps=60",
    "trainer.val_check_interval=20",
    "trainer.log_every_n_steps=10",
    "+trainer.gradient_clip_val=0.5",
    "scheduler=cosine",
    "model.width=4",
]
ADDING = [
    "logger=csv",
    "model=lstm",
    "data=adding",
    "data.length=10",
    "data.num_train=400",
    "data.num_val=100",
    "data.num_test=100",
    "model.hidden_size=8",
    "trainer.max_steps=24",
    "trainer.val_check_interval=12",
    "trainer.log_every_n_steps=4",
    "+trainer.gradient_clip_val=1.0",
]

# uint8 images made into inputs on the device: Fashion-MNIST's files, faked (60 train images,
# batches of 8: 7 a epoch), a small VGG with batch norm, and the classifier's schedule and clip
IMAGES = [
    "logger=csv",
    "data=fashion_mnist",
    "data.batch_size=8",
    "model=vgg",
    "model.width=4",
    "model.depth=2",
    "model.stride=2",
    "model.pool=none",
    "model.global_pool=false",
    *CLASSIFIER[1:-1],
]


def _csv_rows(root) -> list[dict]:
    (path,) = root.rglob("metrics.csv")
    with open(path) as f:
        return list(csv.DictReader(f))


def _weights(root) -> dict[str, torch.Tensor]:
    (ckpt,) = root.rglob("last.ckpt")
    return torch.load(ckpt, map_location="cpu", weights_only=True)["state_dict"]


def _same_run(make_cfg, tmp_path, overrides: list[str], k: int) -> None:
    one = train(make_cfg(*overrides, output_dir=tmp_path / "one"))
    many = train(make_cfg(*overrides, f"train.steps_per_call={k}", output_dir=tmp_path / "k"))
    assert many["status"] == one["status"] == "completed"
    assert many["metrics"] == one["metrics"]  # every metric, bit for bit
    w1, wk = _weights(tmp_path / "one"), _weights(tmp_path / "k")
    assert w1.keys() == wk.keys()
    assert all(torch.equal(w1[name], wk[name]) for name in w1)
    # the logger gets the same steps, epochs and values
    assert _csv_rows(tmp_path / "k") == _csv_rows(tmp_path / "one")


def test_a_classifier_trains_alike_with_several_steps_per_call(make_cfg, tmp_path):
    _same_run(make_cfg, tmp_path, CLASSIFIER, 10)


def test_an_lstm_trains_alike_with_several_steps_per_call(make_cfg, tmp_path):
    _same_run(make_cfg, tmp_path, ADDING, 4)


def test_a_packed_job_trains_alike_with_several_steps_per_call(make_cfg, tmp_path):
    """Two seeds packed in one model: each member's record and logged steps as before."""
    packed = [*CLASSIFIER, "train.parallel_seeds=2"]
    one = train(make_cfg(*packed, output_dir=tmp_path / "one"))
    many = train(make_cfg(*packed, "train.steps_per_call=5", output_dir=tmp_path / "k"))
    assert [m["metrics"] for m in many["members"]] == [m["metrics"] for m in one["members"]]
    for seed in (0, 1):
        rows = [_csv_rows(tmp_path / run / f"seed={seed}") for run in ("one", "k")]
        assert rows[0] == rows[1]


def test_a_crashed_run_of_several_steps_per_call_resumes_to_the_same_metrics(make_cfg, tmp_path):
    base = [*CLASSIFIER, "logger=none", "checkpoint.every_n_steps=30", "train.steps_per_call=5"]

    class Crash(L.Callback):
        def on_train_batch_end(self, trainer, *args):
            if trainer.global_step == 45:
                raise RuntimeError("killed at step 45")

    whole = train(make_cfg(*base, output_dir=tmp_path / "whole"))["metrics"]
    with pytest.raises(RuntimeError):
        train(make_cfg(*base, output_dir=tmp_path / "cut"), callbacks=[Crash()])
    resumed = train(make_cfg(*base, "resume=true", output_dir=tmp_path / "cut"))["metrics"]
    assert resumed == whole


@pytest.fixture
def fashion_files(tmp_path, monkeypatch, no_system_copy) -> list[str]:
    """The overrides that read a faked Fashion-MNIST copy (checked by its own MD5s)."""
    written = write_idx_folder(tmp_path / "copy")
    monkeypatch.setitem(local_copy.FILES, "fashion_mnist", written["files"])
    return [f"data.source_dir={tmp_path / 'copy'}", f"data.data_dir={tmp_path / 'cache'}"]


def _records(root) -> dict[str, dict]:
    """Every results.json's metrics under ``root`` (a packed job's: one per seed), by folder."""
    return {str(p.relative_to(root)): read_results(p)["metrics"] for p in find_results(root)}


@pytest.mark.parametrize(
    "augment, seeds, precision",
    [
        (True, 1, []),
        (True, 2, []),
        (False, 1, []),
        (False, 2, []),
        # the loop makes a call's inputs inside the autocast of its training step, the batch
        # hook outside it: the same float32 inputs (Lightning clips no fused step)
        (True, 1, ["trainer.precision=bf16-mixed", "optimizer.fused=false"]),
    ],
    ids=["augment", "augment-packed", "plain", "plain-packed", "augment-bf16"],
)
def test_image_batches_made_on_the_device_train_alike_with_several_steps_per_call(
    make_cfg, tmp_path, fashion_files, augment, seeds, precision
):
    """Each batch of a call is made at its own step (crops drawn from step + j): the records,
    weights and logged rows of ten steps a call are those of one, packed and unpacked."""
    runs = {}
    for k in (1, 10):
        cfg = make_cfg(
            *IMAGES,
            *fashion_files,
            f"data.augment={str(augment).lower()}",
            f"train.parallel_seeds={seeds}",
            *precision,
            f"train.steps_per_call={k}",
            output_dir=tmp_path / f"k{k}",
        )
        out = train(cfg)
        assert out["status"] == "completed"
        runs[k] = _records(tmp_path / f"k{k}")
    assert len(runs[1]) == seeds
    assert runs[10] == runs[1]  # every metric of every seed, bit for bit
    w1, wk = _weights(tmp_path / "k1"), _weights(tmp_path / "k10")
    assert w1.keys() == wk.keys() and all(torch.equal(w1[n], wk[n]) for n in w1)
    for seed in range(seeds):
        folder = f"seed={seed}" if seeds > 1 else "."
        assert _csv_rows(tmp_path / "k10" / folder) == _csv_rows(tmp_path / "k1" / folder)


def test_an_image_run_of_several_steps_per_call_resumes_to_the_same_records(
    make_cfg, tmp_path, fashion_files
):
    """Cut at step 50 with a checkpoint at 30: the resumed calls draw the crops of their own
    steps, and the records are those of the uninterrupted run of one step per call."""
    base = [
        *IMAGES,
        *fashion_files,
        "logger=none",
        "data.augment=true",
        "checkpoint.every_n_steps=30",
    ]

    class Crash(L.Callback):
        def on_train_batch_end(self, trainer, *args):
            if trainer.global_step == 50:
                raise RuntimeError("killed at step 50")

    train(make_cfg(*base, "train.steps_per_call=1", output_dir=tmp_path / "whole"))
    cut = [*base, "train.steps_per_call=10"]
    with pytest.raises(RuntimeError):
        train(make_cfg(*cut, output_dir=tmp_path / "cut"), callbacks=[Crash()])
    resumed = train(make_cfg(*cut, "resume=true", output_dir=tmp_path / "cut"))
    assert resumed["status"] == "completed"
    assert _records(tmp_path / "cut") == _records(tmp_path / "whole")


@pytest.mark.parametrize(
    "overrides, expected",
    [
        (["trainer.max_steps=42"], "a divisor of trainer.max_steps=42"),
        (["trainer.val_check_interval=25"], "a divisor of trainer.val_check_interval=25"),
        (["trainer.log_every_n_steps=5"], "a divisor of trainer.log_every_n_steps=5"),
        (["checkpoint.every_n_steps=15"], "a divisor of checkpoint.every_n_steps=15"),
        (["trainer.max_steps=-1"], "a divisor of trainer.max_steps=-1"),
        (["trainer.precision=16-mixed"], "1 with trainer.precision=16-mixed"),
        (["trainer.check_val_every_n_epoch=1"], "1 with trainer.check_val_every_n_epoch set"),
        (["+trainer.accumulate_grad_batches=2"], "1 with trainer.accumulate_grad_batches=2"),
        (["trainer.devices=2"], "1 with trainer.devices=2"),
    ],
)
def test_what_several_steps_per_call_cannot_do_is_refused(make_cfg, overrides, expected):
    cfg = make_cfg(
        "trainer.max_steps=40",
        "trainer.log_every_n_steps=10",
        "train.steps_per_call=10",
        *overrides,
    )
    with pytest.raises(ConfigError, match="train.steps_per_call=10") as e:
        validate(cfg)
    assert expected in str(e.value)


def test_one_step_per_call_is_refused_nothing_and_k_is_auto_or_a_positive_integer(make_cfg):
    validate(make_cfg("trainer.max_steps=42", "trainer.precision=16-mixed"))
    for bad in ("0", "2.5", "true", "fast"):
        with pytest.raises(ConfigError, match="expected auto or an integer >= 1"):
            validate(make_cfg(f"train.steps_per_call={bad}"))


@pytest.mark.parametrize(
    "overrides, k",
    [
        ([], 10),
        (["trainer.precision=bf16-mixed"], 10),
        (["trainer.max_steps=42"], 1),
        (["trainer.precision=16-mixed"], 1),
        (["+trainer.accumulate_grad_batches=2"], 1),
        (["data=fashion_mnist"], 10),  # its batches are made in the task's loop
        (["data=cifar10", "model=resnet"], 10),
        (["train.steps_per_call=5"], 5),
    ],
)
def test_auto_takes_ten_steps_a_call_where_they_can_run_and_one_elsewhere(make_cfg, overrides, k):
    cfg = make_cfg(*overrides)
    resolve(cfg)
    assert cfg.train.steps_per_call == k
    validate(cfg)  # never a refusal: auto falls back


def test_data_whose_batch_hook_alone_makes_its_inputs_takes_one_step_a_call(make_cfg):
    """A batch hook without training_inputs (the benchmark's synthetic images): nothing could
    make a call's batches at their steps, so K > 1 is refused and auto takes 1."""
    target = f"{SyntheticImages.__module__}.SyntheticImages"
    cfg = make_cfg("train.steps_per_call=10")
    cfg.data = {"_target_": target}
    with pytest.raises(ConfigError, match="train.steps_per_call=10") as e:
        steps_per_call_fits(cfg)
    assert f"expected 1 with data._target_={target} (its batch hook alone" in str(e.value)
    cfg.train.steps_per_call = "auto"
    resolve(cfg)
    assert cfg.train.steps_per_call == 1


def test_the_record_says_how_many_steps_a_call_ran(make_cfg, tmp_path):
    out = train(make_cfg("trainer.max_steps=20", "trainer.val_check_interval=10"))
    assert json.loads(Path(out["results"]).read_text())["config"]["train"]["steps_per_call"] == 10


def test_the_divergence_check_runs_when_a_call_passes_its_interval():
    class Module:
        steps_per_call = 1

    class Trainer:
        max_steps = 100

    one = [s for s in range(1, 101) if check_due(s, 10, Module(), Trainer())]
    assert one == list(range(10, 101, 10))  # every 10th step, as before
    Module.steps_per_call = 4
    four = [s for s in range(4, 101, 4) if check_due(s, 10, Module(), Trainer())]
    assert four == [12, 20, 32, 40, 52, 60, 72, 80, 92, 100]


def test_a_run_recorded_before_the_key_still_matches_and_a_checkpoint_keeps_its_k(
    make_cfg, tmp_path
):
    """One step per call runs as every run did before the key existed, so an older run's
    record or checkpoint still matches. A finished run is the same whatever K computed it, so
    a rerun with resume=true leaves it; a checkpoint of one K is refused to another, whose
    trainer counts its loop differently, and auto continues it at its own K."""
    cfg = make_cfg("train.steps_per_call=1")
    older = OmegaConf.to_container(cfg, resolve=True)
    del older["train"]["steps_per_call"]
    assert fingerprint.of(older)["digest"] == fingerprint.of(cfg)["digest"]

    base = ["trainer.max_steps=20", "trainer.val_check_interval=10", "model.width=4"]
    done = tmp_path / "done"
    train(make_cfg(*base, "train.steps_per_call=1", output_dir=done))
    record = (done / "results.json").read_bytes()
    again = train(make_cfg(*base, "resume=true", "train.steps_per_call=5", output_dir=done))
    assert again["status"] == "completed" and (done / "results.json").read_bytes() == record

    class Crash(L.Callback):
        def on_train_batch_end(self, trainer, *args):
            if trainer.global_step == 20:
                raise RuntimeError("killed at step 20")

    # a checkpoint at step 10 (between validations), then a crash
    cut = [
        "trainer.max_steps=40",
        "trainer.val_check_interval=20",
        "model.width=4",
        "checkpoint.every_n_steps=10",
        "train.steps_per_call=1",
    ]
    with pytest.raises(RuntimeError):
        train(make_cfg(*cut, output_dir=tmp_path / "cut"), callbacks=[Crash()])
    with pytest.raises(ConfigError) as e:
        train(
            make_cfg(
                *cut[:-1], "resume=true", "train.steps_per_call=5", output_dir=tmp_path / "cut"
            )
        )
    assert str(e.value).startswith("resume=true is not allowed"), str(e.value)
    assert "train.steps_per_call" in str(e.value)
    # auto (the default) continues the checkpoint at its own K, to the uninterrupted metrics
    whole = train(make_cfg(*cut, output_dir=tmp_path / "whole"))
    resumed = train(make_cfg(*cut[:-1], "resume=true", output_dir=tmp_path / "cut"))
    assert resumed["status"] == "completed" and resumed["metrics"] == whole["metrics"]
    assert read_results(tmp_path / "cut")["config"]["train"]["steps_per_call"] == 1


def test_a_checkpoint_whose_k_no_longer_fits_is_refused_by_what_differs(make_cfg, tmp_path):
    """auto takes the checkpoint's K only where it can run: with another max_steps the refusal
    names the keys that differ, not a K the user never typed."""

    class Crash(L.Callback):
        def on_train_batch_end(self, trainer, *args):
            if trainer.global_step >= 2:  # calls of 10 steps: the second call
                raise RuntimeError("killed after a checkpoint")

    cut = ["trainer.max_steps=40", "trainer.val_check_interval=20", "model.width=4",
           "checkpoint.every_n_steps=10"]  # fmt: skip
    with pytest.raises(RuntimeError):
        train(make_cfg(*cut, output_dir=tmp_path / "cut"), callbacks=[Crash()])
    assert fingerprint.in_checkpoint(tmp_path / "cut" / CHECKPOINT)["values"][KEY] == 10
    with pytest.raises(ConfigError) as e:
        train(make_cfg(*cut, "trainer.max_steps=45", "resume=true", output_dir=tmp_path / "cut"))
    assert str(e.value).startswith("resume=true is not allowed"), str(e.value)
    assert "trainer.max_steps" in str(e.value) and KEY in str(e.value)


def test_the_step_translating_logger_is_the_wrapped_logger_otherwise():
    """What a user calls on trainer.logger (W&B's log_image, a checkpoint upload) reaches the
    logger the run made."""
    from lightning.pytorch.loggers import Logger

    from biaslab.run.steps_per_call import StepsLogger

    class Recording(Logger):
        name, version = "r", 0
        calls: list = []

        def log_hyperparams(self, params, *args, **kwargs):
            pass

        def log_metrics(self, metrics, step=None):
            self.calls.append((dict(metrics), step))

        def after_save_checkpoint(self, checkpoint_callback):
            self.calls.append(("checkpoint", checkpoint_callback))

        def log_image(self, key, images):
            self.calls.append(("image", key))

    inner = Recording()
    outer = StepsLogger(inner, 10, lambda: 40, lambda: 1)
    outer.log_metrics({"train/loss": 0.5, "epoch": 0}, step=3)  # Lightning's call count
    outer.after_save_checkpoint("cb")
    outer.log_image("x", [])
    assert inner.calls == [
        ({"train/loss": 0.5, "epoch": 1}, 39),
        ("checkpoint", "cb"),
        ("image", "x"),
    ]
