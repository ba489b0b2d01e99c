"""The one-line error and the rule table: a key, a test and what is allowed, for every key
that no constructor signature describes (the trainer, logger, optimizer, top-level keys)."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, ListConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException


class ConfigError(ValueError):
    """A config value that cannot work. ``str(e)`` is one line: key, value, what is allowed."""

    def __init__(self, key: str, value: Any, allowed: str):
        self.key, self.value, self.allowed = key, value, allowed
        super().__init__(f"{key}={show(value)} is not allowed: expected {allowed}")


def show(value: Any) -> str:
    if isinstance(value, (DictConfig, ListConfig)):
        value = OmegaConf.to_container(value)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


Rule = tuple[Callable[[Any], bool], str]


def choice(cfg: DictConfig, group: str) -> str:
    """The group's option as typed (``model=cnn``), else its target's class name."""
    if HydraConfig.initialized():
        chosen = HydraConfig.get().runtime.choices.get(group)
        if chosen:
            return str(chosen)
    return str(cfg[group].get("_target_", "?")).rsplit(".", 1)[-1].lower()


def is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def int_at_least(lo: int) -> Rule:
    return (lambda v: is_int(v) and v >= lo), f"an integer >= {lo}"


def int_in(lo: int, hi: int) -> Rule:
    return (lambda v: is_int(v) and lo <= v <= hi), f"an integer from {lo} to {hi}"


def ints_at_least(lo: int) -> Rule:
    def ok(v):
        if isinstance(v, ListConfig):
            return len(v) > 0 and all(is_int(x) and x >= lo for x in v)
        return is_int(v) and v >= lo

    return ok, f"an integer >= {lo} or a non-empty list of them"


def one_of(*choices) -> Rule:
    # bools compared by identity so that 1 is not taken for true
    def ok(v):
        return any(v is c if isinstance(c, bool) or c is None else v == c for c in choices)

    return ok, "one of " + ", ".join(show(c) for c in choices)


def number_in(lo: float, hi: float, lo_open=False, hi_open=False) -> Rule:
    def ok(v):
        if not is_number(v):
            return False
        return (v > lo if lo_open else v >= lo) and (v < hi if hi_open else v <= hi)

    inf = float("inf")
    if (lo, hi) == (-inf, inf):
        return ok, "a finite number"
    if hi == inf:
        return ok, f"a number {'>' if lo_open else '>='} {lo}"
    left, right = "(" if lo_open else "[", ")" if hi_open else "]"
    return ok, f"a number in {left}{lo}, {hi}{right}"


def optional(rule: Rule) -> Rule:
    ok, allowed = rule
    return (lambda v: v is None or ok(v)), f"null or {allowed}"


def strings(max_len: int) -> Rule:
    def ok(v):
        return isinstance(v, ListConfig) and all(
            isinstance(s, str) and 1 <= len(s) <= max_len for s in v
        )

    return ok, f"a list of strings of 1 to {max_len} characters, e.g. [a,b]"


BOOL = one_of(True, False)
POSITIVE = number_in(0, float("inf"), lo_open=True, hi_open=True)
NON_NEGATIVE = number_in(0, float("inf"), hi_open=True)
FRACTION_OPEN = number_in(0, 1, lo_open=True, hi_open=True)
# NumPy's and Lightning's seeding take 32 bits; Lightning replaces a larger seed with 0
SEED_MAX = 2**32 - 1
SEED = int_in(0, SEED_MAX)
PRECISIONS = ("32-true", "64-true", "16-mixed", "bf16-mixed", "16-true", "bf16-true")


def loss_scaled(precision: Any) -> bool:
    """Whether ``trainer.precision`` trains with a loss scaler: 16-mixed, which Lightning also
    reads the short form 16 as."""
    return str(precision) in ("16-mixed", "16")


STEPS = (lambda v: is_int(v) and (v >= 1 or v == -1)), "an integer >= 1, or -1"
# Output locations may be absolute, but a '..' component would let a value (or a task_name
# interpolated into one) climb out of the folder it names, e.g. out of multirun/.
PATH: Rule = (
    lambda v: isinstance(v, str) and v != "" and ".." not in Path(v).parts,
    "a non-empty path without '..' components (absolute paths are fine)",
)
NAME: Rule = (
    lambda v: isinstance(v, str) and re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]*", v) is not None,
    "a plain name: letters, digits, _ . - (no '/', not starting with '.')",
)
# the output locations outside paths.*; check_paths takes task_name (it names W&B groups and
# the presets' sweep folders) and every paths.* key first
PATH_RULES: dict[str, Rule] = {
    "data.data_dir": PATH,
    "logger.save_dir": PATH,
    "logger.name": optional(
        (lambda v: isinstance(v, str) and ".." not in Path(v).parts, "a name without '..'")
    ),
    "trainer.default_root_dir": PATH,
}
HYDRA_DIRS = ("run.dir", "sweep.dir", "sweep.subdir", "output_subdir")

RULES: dict[str, Rule] = {
    "seed": SEED,
    "train.parallel_seeds": int_at_least(1),
    "train.no_decay_bias_norm": BOOL,
    "train.steps_per_call": (
        lambda v: v == "auto" or (is_int(v) and v >= 1),
        "auto or an integer >= 1",
    ),
    "tags": strings(64),  # W&B refuses longer tags
    "optimized_metric": (
        lambda v: v is None or (isinstance(v, str) and v.startswith("val/") and len(v) > 4),
        "null or a validation metric such as val/acc (the test set never chooses)",
    ),
    "checkpoint.every_n_steps": optional(int_at_least(1)),
    "checkpoint.at_end": BOOL,
    "resume": BOOL,
    "overwrite": BOOL,
    "model.compile": BOOL,
    # read only (never written), so an existing folder is all it needs to be
    "data.source_dir": (
        lambda v: v is None or (isinstance(v, str) and os.path.isdir(v)),
        "null or an existing folder (holding the four Fashion-MNIST idx files)",
    ),
    "optimizer.lr": POSITIVE,
    "optimizer.weight_decay": NON_NEGATIVE,
    "optimizer.momentum": number_in(0, 1, hi_open=True),
    "optimizer.nesterov": BOOL,
    "optimizer.fused": optional(BOOL),
    # scheduler.T_max and total_steps: see optimization.schedule_fits_steps
    "scheduler.eta_min": NON_NEGATIVE,
    "scheduler.max_lr": POSITIVE,
    "scheduler.pct_start": FRACTION_OPEN,
    "trainer.accelerator": one_of("auto", "cpu", "gpu", "cuda", "mps"),
    "trainer.devices": (
        lambda v: (
            v == "auto"
            or (is_int(v) and (v >= 1 or v == -1))
            or (isinstance(v, ListConfig) and len(v) > 0 and all(is_int(x) and x >= 0 for x in v))
        ),
        "an integer >= 1, -1 (all), auto, or a list of device indices",
    ),
    "trainer.precision": (
        # Lightning's names, and the short forms it still takes
        one_of(*PRECISIONS, 64, 32, 16, "64", "32", "16", "bf16")[0],
        "one of " + ", ".join(PRECISIONS) + " (or 64, 32, 16, bf16)",
    ),
    "trainer.max_steps": STEPS,
    "trainer.max_epochs": optional((STEPS[0], "an integer >= 1, or -1")),
    "trainer.val_check_interval": (
        lambda v: (is_int(v) and v >= 1) or (isinstance(v, float) and 0 < v <= 1),
        "an integer >= 1 (steps) or a number in (0, 1] (a fraction of an epoch)",
    ),
    "trainer.check_val_every_n_epoch": optional(int_at_least(1)),
    "trainer.log_every_n_steps": int_at_least(1),
    "trainer.num_sanity_val_steps": int_at_least(-1),
    "trainer.enable_progress_bar": BOOL,
    "trainer.enable_model_summary": BOOL,
    "trainer.deterministic": one_of(True, False, "warn"),
    "trainer.gradient_clip_val": optional(NON_NEGATIVE),
    "trainer.sync_batchnorm": BOOL,
    "logger.project": (
        lambda v: isinstance(v, str) and 1 <= len(v) <= 128 and not set(v) & set("/\\#?%:"),
        "a W&B project name: 1 to 128 characters, none of / \\ # ? % :",
    ),
    "logger.mode": one_of("online", "offline", "disabled"),
    "logger.group": optional((lambda v: isinstance(v, str) and v != "", "a non-empty string")),
    "logger.tags": strings(64),
}

ABSENT = object()


def lookup(cfg: DictConfig, key: str) -> Any:
    """The value at dotted ``key``, or ``ABSENT`` where the config has no such key."""
    node: Any = cfg
    for part in key.split("."):
        if not isinstance(node, DictConfig) or part not in node:
            return ABSENT
        node = node[part]
    return node


def check_rules(cfg: DictConfig, rules: dict[str, Rule]) -> None:
    for key, (ok, allowed) in rules.items():
        value = lookup(cfg, key)
        if value is not ABSENT and not ok(value):
            raise ConfigError(key, value, allowed)


def resolvable(cfg: DictConfig, key: str) -> Any:
    """Like :func:`lookup`, but ``ABSENT`` also for a value that cannot be resolved yet
    (``paths.output_dir`` before Hydra has made the job's folder)."""
    try:
        return lookup(cfg, key)
    except OmegaConfBaseException:
        return ABSENT
