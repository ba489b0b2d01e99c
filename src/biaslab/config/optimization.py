"""Combinations of the optimizer and schedule keys with the rest of the config."""

from __future__ import annotations

from omegaconf import DictConfig, OmegaConf

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
