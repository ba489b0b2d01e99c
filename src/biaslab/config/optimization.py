"""Combinations of the optimizer and schedule keys with the rest of the config."""

from __future__ import annotations

from hydra.utils import get_object
from omegaconf import DictConfig, OmegaConf, open_dict

from biaslab.config.rules import ConfigError, choice, is_int, loss_scaled


def nesterov_needs_momentum(cfg: DictConfig) -> None:
    momentum = OmegaConf.select(cfg, "optimizer.momentum")
    if OmegaConf.select(cfg, "optimizer.nesterov") and not momentum:
        raise ConfigError("optimizer.momentum", momentum, "a momentum > 0 when nesterov=true")


def schedule_fits_steps(cfg: DictConfig) -> None:
    """A schedule's length (T_max, total_steps) is by default trainer.max_steps: an invalid
    one is then blamed on max_steps, the key the user typed. OneCycleLR also raises when
    stepped past its total_steps."""
    scheduler, steps = cfg.get("scheduler"), OmegaConf.select(cfg, "trainer.max_steps")
    if not isinstance(scheduler, DictConfig):
        return
    raw = OmegaConf.to_container(scheduler, resolve=False)
    for key in ("T_max", "total_steps"):
        value = scheduler.get(key)
        if key not in scheduler or (is_int(value) and value >= 1):
            continue
        if "trainer.max_steps" in str(raw[key]):
            on = f"scheduler={choice(cfg, 'scheduler')}"
            raise ConfigError("trainer.max_steps", steps, f"an integer >= 1 with {on}")
        raise ConfigError(f"scheduler.{key}", value, "an integer >= 1")
    total = scheduler.get("total_steps")
    if total is not None and is_int(steps) and steps >= 1 and total < steps:
        raise ConfigError(
            "scheduler.total_steps", total, f"an integer >= trainer.max_steps={steps}"
        )


def fused_step_can_clip(cfg: DictConfig) -> None:
    """A fused optimizer unscales 16-mixed's scaled gradients inside its own step, so the
    gradients Lightning would clip before it are still scaled: Lightning refuses at the first
    step, after the set-up. Said here, before anything runs, naming the key to change."""
    fused = OmegaConf.select(cfg, "optimizer.fused")
    clip = OmegaConf.select(cfg, "trainer.gradient_clip_val")
    precision = OmegaConf.select(cfg, "trainer.precision")
    if fused and clip and loss_scaled(precision):
        raise ConfigError(
            "optimizer.fused",
            fused,
            f"false or null with trainer.precision={precision} and "
            f"trainer.gradient_clip_val={clip}"
            " (a fused step unscales the gradients itself, after they would be clipped)",
        )


AUTO_STEPS = 10  # what train.steps_per_call=auto takes where it can (docs/performance.md)


def steps_per_call_fits(cfg: DictConfig) -> None:
    """``train.steps_per_call=K`` > 1 (:mod:`biaslab.run.steps_per_call`) where it cannot run is
    refused; ``auto`` takes one step per call there instead (the same run either way)."""
    k = OmegaConf.select(cfg, "train.steps_per_call")
    if is_int(k) and k > 1:
        blocked = steps_per_call_blocked(cfg, k)
        if blocked is not None:
            raise ConfigError("train.steps_per_call", k, blocked)


def resolve_steps_per_call(cfg: DictConfig) -> None:
    """Replace ``train.steps_per_call=auto`` in ``cfg`` by what runs: :data:`AUTO_STEPS` steps
    a call where they can run, else 1. Before a run's folder is checked and its fingerprint and
    record are made, so that all of them say which K ran."""
    key = "train.steps_per_call"
    if OmegaConf.select(cfg, key, throw_on_resolution_failure=False) != "auto":
        return
    k = AUTO_STEPS if steps_per_call_blocked(cfg, AUTO_STEPS) is None else 1
    with open_dict(cfg):
        OmegaConf.update(cfg, key, k)


def steps_per_call_blocked(cfg: DictConfig, k: int) -> str | None:
    """Why K steps per call cannot run with ``cfg`` (what is allowed instead), or None. The
    trainer counts calls of K steps, so every step interval must be a multiple of K, and the
    K steps are taken by the task's own loop, which does what a 32/64-bit or bf16 step on one
    device does: several devices, loss scaling, gradient accumulation and batches that only
    the trainer's batch hook can make are left out rather than half done."""
    t = cfg.get("trainer")
    if not isinstance(t, DictConfig):
        return "1 without a trainer config"
    for key, value in (
        ("trainer.max_steps", t.get("max_steps")),
        ("trainer.val_check_interval", t.get("val_check_interval")),
        ("trainer.log_every_n_steps", t.get("log_every_n_steps", 50)),
        ("checkpoint.every_n_steps", OmegaConf.select(cfg, "checkpoint.every_n_steps")),
    ):
        if key == "checkpoint.every_n_steps" and value is None:
            continue
        if not is_int(value) or value < 1 or value % k:
            return f"a divisor of {key}={value} (a step count >= 1)"
    if t.get("check_val_every_n_epoch") is not None:
        return "1 with trainer.check_val_every_n_epoch set (K-step calls have no epoch end)"
    target = OmegaConf.select(cfg, "data._target_")
    # a data module that makes each batch's inputs on the device in its batch hook must make
    # a call's K batches for the task's loop too, each at its own step (the image datasets,
    # which augment with the step's seed, do: training_inputs)
    try:
        data_class = get_object(target) if target else None
    except Exception:  # an unknown target: validate() names it
        return "1 with an unknown data._target_"
    if data_class is not None and own_batch_hook(data_class) and not own_inputs(data_class):
        return f"1 with data._target_={target} (its batch hook alone makes a batch's inputs)"
    if str(t.get("devices", 1)) != "1" or str(t.get("num_nodes", 1)) != "1":
        return f"1 with trainer.devices={t.get('devices')} (one device only)"
    if loss_scaled(t.get("precision")):
        return f"1 with trainer.precision={t.get('precision')} (loss scaling)"
    if t.get("accumulate_grad_batches", 1) != 1:
        return f"1 with trainer.accumulate_grad_batches={t.get('accumulate_grad_batches')}"
    return None


def own_batch_hook(data_class: type) -> bool:
    """Whether the data module turns each batch into inputs on the device itself."""
    import lightning as L  # here: the config checks need Lightning only for this question

    hook = getattr(data_class, "on_after_batch_transfer", None)
    return hook is not None and hook is not L.LightningDataModule.on_after_batch_transfer


def own_inputs(data_class: type) -> bool:
    """Whether the data module makes a training batch's inputs at a given step itself
    (``training_inputs``), as the loop of K steps a call asks it to."""
    from biaslab.data.base import TensorDataModule  # as above: only for this question

    make = getattr(data_class, "training_inputs", None)
    return make is not None and make is not TensorDataModule.training_inputs
