"""Checks every config value before any training, so a typo costs one clear line, not a run.

Each rule names a dotted key, a test and what is allowed; keys absent from the composed
config (e.g. ``model.kernel_size`` for the MLP) are skipped. Unknown keys are already refused
by Hydra (the config is in struct mode) and unknown group options by Hydra's composer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf


class ConfigError(ValueError):
    """A config value that cannot work. ``str(e)`` is one line: key, value, what is allowed."""

    def __init__(self, key: str, value: Any, allowed: str):
        self.key, self.value, self.allowed = key, value, allowed
        super().__init__(f"{key}={_show(value)} is not allowed: expected {allowed}")


def _show(value: Any) -> str:
    if isinstance(value, (DictConfig, ListConfig)):
        value = OmegaConf.to_container(value)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def _int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _num(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def int_at_least(lo: int) -> tuple[Callable[[Any], bool], str]:
    return (lambda v: _int(v) and v >= lo), f"an integer >= {lo}"


def ints_at_least(lo: int) -> tuple[Callable[[Any], bool], str]:
    def ok(v):
        if isinstance(v, ListConfig):
            return len(v) > 0 and all(_int(x) and x >= lo for x in v)
        return _int(v) and v >= lo

    return ok, f"an integer >= {lo} or a non-empty list of them"


def one_of(*choices) -> tuple[Callable[[Any], bool], str]:
    # bools compared by identity so that 1 is not taken for true
    def ok(v):
        return any(v is c if isinstance(c, bool) or c is None else v == c for c in choices)

    return ok, "one of " + ", ".join(_show(c) for c in choices)


def number_in(lo: float, hi: float, lo_open=False, hi_open=False) -> tuple[Callable, str]:
    def ok(v):
        if not _num(v):
            return False
        return (v > lo if lo_open else v >= lo) and (v < hi if hi_open else v <= hi)

    left, right = "(" if lo_open else "[", ")" if hi_open else "]"
    return ok, f"a number in {left}{lo}, {hi}{right}"


BOOL = one_of(True, False)
POSITIVE = number_in(0, float("inf"), lo_open=True)
NON_NEGATIVE = number_in(0, float("inf"))
FRACTION_OPEN = number_in(0, 1, lo_open=True, hi_open=True)

RULES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "seed": int_at_least(0),
    "model.width": int_at_least(1),
    "model.depth": int_at_least(1),
    "model.width_mult": POSITIVE,
    "model.kernel_size": ints_at_least(1),
    "model.stride": ints_at_least(1),
    "model.padding": ints_at_least(0),
    "model.pool": one_of("none", "max"),
    "model.global_pool": BOOL,
    "model.bias": one_of(True, False, "auto"),
    "model.first_bias": one_of(None, True, False),
    "model.head_bias": BOOL,
    "model.norm": one_of("none", "batch", "group", "layer"),
    "model.norm_groups": int_at_least(1),
    "model.act": one_of("relu", "gelu"),
    "model.dropout": number_in(0, 1, hi_open=True),
    "model.hidden_size": int_at_least(1),
    "model.num_layers": int_at_least(1),
    "model.forget_bias": (
        lambda v: v is None or v == "chrono" or _num(v),
        "null, a number (e.g. 0, 1, 2) or chrono",
    ),
    "model.chrono_tmax": (lambda v: v is None or (_num(v) and v > 2), "null or a number > 2"),
    "model.output": one_of("auto", "last", "sequence"),
    "data.batch_size": int_at_least(1),
    "data.val_fraction": FRACTION_OPEN,
    "data.normalize": BOOL,
    "data.shift": number_in(float("-inf"), float("inf")),
    "data.seed": int_at_least(0),
    "data.num_samples": int_at_least(20),
    "data.train_split": FRACTION_OPEN,
    "data.test_fraction": FRACTION_OPEN,
    "data.length": int_at_least(2),
    "data.num_train": int_at_least(1),
    "data.num_val": int_at_least(1),
    "data.num_test": int_at_least(1),
    "optimizer.lr": POSITIVE,
    "optimizer.weight_decay": NON_NEGATIVE,
    "optimizer.momentum": number_in(0, 1, hi_open=True),
    "trainer.max_steps": (lambda v: _int(v) and (v >= 1 or v == -1), "an integer >= 1, or -1"),
    "trainer.max_epochs": (
        lambda v: v is None or (_int(v) and (v >= 1 or v == -1)),
        "an integer >= 1, -1 or null",
    ),
    "trainer.precision": one_of("64-true", "32-true", "bf16-mixed", "16-mixed", "bf16-true"),
    "trainer.accelerator": one_of("auto", "cpu", "gpu", "cuda", "mps"),
    "logger.mode": one_of("online", "offline", "disabled"),
}


def validate(cfg: DictConfig) -> None:
    """Raise :class:`ConfigError` for the first value that breaks a rule, in config order."""
    channels = OmegaConf.select(cfg, "model.channels")
    if channels is not None:
        ok, _ = ints_at_least(1)
        if not (isinstance(channels, ListConfig) and ok(channels)):
            raise ConfigError("model.channels", channels, "null or a list of integers >= 1")
    forget_bias = OmegaConf.select(cfg, "model.forget_bias")
    if forget_bias is not None and OmegaConf.select(cfg, "model.bias") is False:
        raise ConfigError("model.forget_bias", forget_bias, "null when model.bias=false")
    for key, (ok, allowed) in RULES.items():
        node = cfg
        *parents, leaf = key.split(".")
        for p in parents:
            node = node.get(p) if isinstance(node, DictConfig) else None
        if not isinstance(node, DictConfig) or leaf not in node:
            continue
        value = node[leaf]
        if not ok(value):
            raise ConfigError(key, value, allowed)
    # combinations that each value alone does not reveal
    momentum = OmegaConf.select(cfg, "optimizer.momentum")
    if OmegaConf.select(cfg, "optimizer.nesterov") and not momentum:
        raise ConfigError("optimizer.momentum", momentum, "a momentum > 0 when nesterov=true")
