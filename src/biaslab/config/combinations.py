"""Combinations that no single value reveals: a CNN too deep for its input, an LSTM on
images, a batch larger than the data, ..."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from hydra.utils import get_object
from omegaconf import DictConfig, OmegaConf

from biaslab.config.cnn import bias_block_fits, cnn_fits_input
from biaslab.config.measures import callbacks_build, measures_fit
from biaslab.config.optimization import (
    fused_step_can_clip,
    nesterov_needs_momentum,
    schedule_fits_steps,
    steps_per_call_fits,
)
from biaslab.config.rules import SEED_MAX, ConfigError, choice, is_int

LSTM = "biaslab.models.lstm.LSTM"
RESNET = "biaslab.models.resnet.ResNet"
# the sequence problems and the LSTM output each one needs
SEQUENCE_DATA = {"biaslab.data.sequence.Adding": "last", "biaslab.data.sequence.Copy": "sequence"}
IMAGE_DATA = ("biaslab.data.digits.", "biaslab.data.vision.")  # inputs shaped (C, H, W)


def _model_fits_data(cfg: DictConfig) -> None:
    model, data = cfg.get("model"), cfg.get("data")
    if model is None or data is None or "_target_" not in data:
        return
    target, needs = model.get("_target_"), SEQUENCE_DATA.get(data._target_)
    on = f"data={choice(cfg, 'data')}"
    if needs and target != LSTM:
        raise ConfigError("model", choice(cfg, "model"), f"lstm with {on}")
    if not needs and target == LSTM:
        raise ConfigError(
            "model", "lstm", f"a model other than lstm with {on} (lstm is for data=adding or copy)"
        )
    if needs and model.get("output", "auto") not in ("auto", needs):
        scored = "per-step" if needs == "sequence" else "on the last step"
        raise ConfigError(
            "model.output", model.output, f"auto or {needs} with {on} (it is scored {scored})"
        )
    if target == RESNET and not str(data._target_).startswith(IMAGE_DATA):
        raise ConfigError(
            "model", choice(cfg, "model"), f"cnn or mlp with {on} (resnet needs images)"
        )
    depth = model.get("depth")
    if target == RESNET and depth != 18 and not (is_int(depth) and depth >= 8 and depth % 6 == 2):
        raise ConfigError("model.depth", depth, "6n+2 (8, 14, 20, 32, ...) or 18 for resnet")


def _train_size(data: DictConfig) -> int | None:
    if data.get("train_samples") is not None:  # an image dataset's subset
        return data.train_samples
    if "num_train" in data:
        return data.num_train
    if {"num_samples", "train_split", "val_fraction"} <= set(data):  # MNIST-1D, as generated
        n = int(data.num_samples * data.train_split)
        return n - round(n * data.val_fraction)
    return None


def _splits_not_empty(cfg: DictConfig) -> None:
    """``data.val_fraction`` must leave both a validation and a training example (where the
    sizes are known before loading): an empty split fails only after the data is built, and
    an empty training split used to be blamed on the batch size."""
    data = cfg.get("data")
    if data is None or not {"num_samples", "train_split", "val_fraction"} <= set(data):
        return
    n = int(data.num_samples * data.train_split)
    n_val = round(n * data.val_fraction)
    if n_val == 0 or n_val == n:
        left = "validation" if n_val == 0 else "training"
        raise ConfigError(
            "data.val_fraction",
            data.val_fraction,
            f"a fraction that leaves at least one {left} example of the {n}",
        )


def _subset_fits_split(cfg: DictConfig) -> None:
    """``data.train_samples`` at most the training split of the full image dataset."""
    data = cfg.get("data")
    if data is None or data.get("train_samples") is None or "_target_" not in data:
        return
    total = getattr(get_object(data._target_), "train_images", None)
    if total is not None:
        n = total - round(total * data.val_fraction)
        if data.train_samples > n:
            allowed = f"null or an integer from 1 to {n} (the training split)"
            raise ConfigError("data.train_samples", data.train_samples, allowed)


def _batch_fits_data(cfg: DictConfig) -> None:
    model, data = cfg.get("model"), cfg.get("data")
    if data is None or "batch_size" not in data:
        return
    size = _train_size(data)
    if size is not None and data.batch_size > size:
        raise ConfigError(
            "data.batch_size",
            data.batch_size,
            f"an integer from 1 to {size} (the training examples)",
        )
    if model is not None and model.get("norm") == "batch" and data.batch_size < 2:
        # batch norm of one example is undefined (PyTorch raises mid-training for an MLP)
        raise ConfigError(
            "data.batch_size", data.batch_size, "an integer >= 2 with model.norm=batch"
        )


def _forget_bias_needs_bias(cfg: DictConfig) -> None:
    forget_bias = OmegaConf.select(cfg, "model.forget_bias")
    if forget_bias is not None and OmegaConf.select(cfg, "model.bias") is False:
        raise ConfigError("model.forget_bias", forget_bias, "null when model.bias=false")


def _validation_can_run(cfg: DictConfig) -> None:
    interval = cfg.trainer.get("val_check_interval")
    if isinstance(interval, float) and cfg.trainer.get("check_val_every_n_epoch", 1) is None:
        raise ConfigError(
            "trainer.val_check_interval",
            interval,
            "an integer number of steps when trainer.check_val_every_n_epoch=null",
        )


def _metric_is_validated(cfg: DictConfig) -> None:
    """A sweeper's ``optimized_metric`` is a validation metric: a run too short to reach its
    first validation would leave every trial without a score, after all the training."""
    metric = cfg.get("optimized_metric")
    steps, interval = cfg.trainer.get("max_steps"), cfg.trainer.get("val_check_interval")
    if metric is None or not is_int(steps) or not is_int(interval) or steps == -1:
        return
    if steps < interval:
        raise ConfigError(
            "trainer.max_steps",
            steps,
            f"at least trainer.val_check_interval={interval} with optimized_metric={metric}"
            " (no validation would run)",
        )


def _metric_is_recorded(cfg: DictConfig) -> None:
    """A sweeper reads ``optimized_metric`` from the finished run: a name the task never logs
    would score every trial NaN after all the training."""
    metric, data = cfg.get("optimized_metric"), cfg.get("data")
    if metric is None or data is None or "_target_" not in data:
        return
    from biaslab.tasks.registry import TASKS  # imports Lightning: only once a config gets this far

    task = TASKS[getattr(get_object(data._target_), "task", "classification")]
    recorded = [*task.val_metrics, f"{task.best_metric}_best"]
    if metric not in recorded:
        allowed = f"one of {', '.join(recorded)} with data={choice(cfg, 'data')}"
        raise ConfigError("optimized_metric", metric, allowed)


def _device_exists(cfg: DictConfig) -> None:
    accelerator, devices = cfg.trainer.get("accelerator"), cfg.trainer.get("devices")
    if accelerator not in ("gpu", "cuda", "mps"):
        return
    import torch  # here: only a run that asks for an accelerator pays for the import

    if accelerator == "mps":
        count = int(torch.backends.mps.is_available())
    else:
        count = torch.cuda.device_count()
    if count == 0:
        raise ConfigError(
            "trainer.accelerator", accelerator, f"auto or cpu (no {accelerator} device here)"
        )
    if is_int(devices) and devices > count:
        raise ConfigError(
            "trainer.devices", devices, f"at most {count} ({accelerator} devices here)"
        )


def _data_dir_usable(cfg: DictConfig) -> None:
    """The dataset folder must be a folder, or creatable: a file in its way or a read-only
    parent would otherwise fail only after the run has started."""
    data = cfg.get("data")
    if data is None or "data_dir" not in data:
        return
    key = "data.data_dir"
    if "paths.data_dir" in str(OmegaConf.to_container(data)["data_dir"]):
        key = "paths.data_dir"  # the documented knob, which data.data_dir follows
    path = existing = Path(data.data_dir)
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if existing.exists() and not existing.is_dir():
        raise ConfigError(key, data.data_dir, f"a folder ({existing} is not one)")
    if existing != path and not os.access(existing, os.W_OK | os.X_OK):
        raise ConfigError(
            key, data.data_dir, f"a folder that can be created ({existing} is read-only)"
        )


def _training_ends(cfg: DictConfig) -> None:
    trainer = cfg.get("trainer")
    if trainer is not None and trainer.get("max_steps") == -1 and trainer.get("max_epochs") == -1:
        raise ConfigError(
            "trainer.max_steps", -1, "an integer >= 1 when trainer.max_epochs=-1 (never ends)"
        )


def _seeds_fit(cfg: DictConfig) -> None:
    """Seeds seed .. seed+K-1 of a packed job must all be valid seeds."""
    seed, k = cfg.get("seed"), OmegaConf.select(cfg, "train.parallel_seeds")
    if is_int(seed) and is_int(k) and seed + k - 1 > SEED_MAX:
        raise ConfigError(
            "train.parallel_seeds", k, f"at most {SEED_MAX - seed + 1} with seed={seed}"
        )


def _resume_or_overwrite(cfg: DictConfig) -> None:
    if cfg.get("resume") is True and cfg.get("overwrite") is True:
        raise ConfigError(
            "overwrite",
            True,
            "false with resume=true (resume continues the run, overwrite replaces it)",
        )


COMBINATIONS: tuple[Callable[[DictConfig], None], ...] = (
    _model_fits_data,
    cnn_fits_input,
    bias_block_fits,
    _splits_not_empty,
    _subset_fits_split,
    _batch_fits_data,
    _forget_bias_needs_bias,
    nesterov_needs_momentum,
    fused_step_can_clip,
    schedule_fits_steps,
    _validation_can_run,
    steps_per_call_fits,
    _metric_is_recorded,
    _metric_is_validated,
    _device_exists,
    _data_dir_usable,
    _training_ends,
    _seeds_fit,
    _resume_or_overwrite,
    callbacks_build,
    measures_fit,
)
