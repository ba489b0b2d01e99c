"""Checks every config value before any training, so a typo costs one clear line, not a run.

Each rule names a dotted key, a test and what is allowed; keys absent from the composed
config (e.g. ``model.kernel_size`` for the MLP) are skipped. Unknown keys are refused by Hydra
(the config is in struct mode), unknown group options by Hydra's composer; a key added with
``+`` must be a parameter of the group's ``_target_``. Combinations that no single value
reveals (a CNN too deep for its input, an LSTM on images, ...) are checked last.

Output locations are checked twice by :func:`check_paths`: by the Hydra callback
:class:`SafeOutputPaths` before Hydra creates any folder, and again by :func:`validate`.
"""

from __future__ import annotations

import difflib
import inspect
import os
import re
import sys
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.experimental.callback import Callback
from hydra.utils import get_object
from omegaconf import DictConfig, ListConfig, OmegaConf
from omegaconf.errors import MissingMandatoryValue, OmegaConfBaseException

from biaslab import schema
from biaslab.secrets import ENV_HINT, is_secret_key, override_key


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


Rule = tuple[Callable[[Any], bool], str]


def _int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _num(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def int_at_least(lo: int) -> Rule:
    return (lambda v: _int(v) and v >= lo), f"an integer >= {lo}"


def int_in(lo: int, hi: int) -> Rule:
    return (lambda v: _int(v) and lo <= v <= hi), f"an integer from {lo} to {hi}"


def ints_at_least(lo: int) -> Rule:
    def ok(v):
        if isinstance(v, ListConfig):
            return len(v) > 0 and all(_int(x) and x >= lo for x in v)
        return _int(v) and v >= lo

    return ok, f"an integer >= {lo} or a non-empty list of them"


def one_of(*choices) -> Rule:
    # bools compared by identity so that 1 is not taken for true
    def ok(v):
        return any(v is c if isinstance(c, bool) or c is None else v == c for c in choices)

    return ok, "one of " + ", ".join(_show(c) for c in choices)


def number_in(lo: float, hi: float, lo_open=False, hi_open=False) -> Rule:
    def ok(v):
        if not _num(v):
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
STEPS = (lambda v: _int(v) and (v >= 1 or v == -1)), "an integer >= 1, or -1"
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
HYDRA_DIRS = ("run.dir", "sweep.dir", "sweep.subdir")

RULES: dict[str, Rule] = {
    "seed": SEED,
    "train.parallel_seeds": int_at_least(1),
    "train.no_decay_bias_norm": BOOL,
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
    # scheduler.T_max and total_steps: see _schedule_fits_steps
    "scheduler.eta_min": NON_NEGATIVE,
    "scheduler.max_lr": POSITIVE,
    "scheduler.pct_start": FRACTION_OPEN,
    "trainer.accelerator": one_of("auto", "cpu", "gpu", "cuda", "mps"),
    "trainer.devices": (
        lambda v: (
            v == "auto"
            or (_int(v) and (v >= 1 or v == -1))
            or (isinstance(v, ListConfig) and len(v) > 0 and all(_int(x) and x >= 0 for x in v))
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
        lambda v: (_int(v) and v >= 1) or (isinstance(v, float) and 0 < v <= 1),
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

_ABSENT = object()


def _lookup(cfg: DictConfig, key: str) -> Any:
    """The value at dotted ``key``, or ``_ABSENT`` where the config has no such key."""
    node: Any = cfg
    for part in key.split("."):
        if not isinstance(node, DictConfig) or part not in node:
            return _ABSENT
        node = node[part]
    return node


def _check(cfg: DictConfig, rules: dict[str, Rule]) -> None:
    for key, (ok, allowed) in rules.items():
        value = _lookup(cfg, key)
        if value is not _ABSENT and not ok(value):
            raise ConfigError(key, value, allowed)


def _resolvable(cfg: DictConfig, key: str) -> Any:
    """Like :func:`_lookup`, but ``_ABSENT`` also for a value that cannot be resolved yet
    (``paths.output_dir`` before Hydra has made the job's folder)."""
    try:
        return _lookup(cfg, key)
    except OmegaConfBaseException:
        return _ABSENT


def check_paths(cfg: DictConfig, hydra: DictConfig | None = None) -> None:
    """Refuse a ``task_name`` that is not a plain name, and any output location (every
    ``paths.*`` key, ``data.data_dir``, ``logger.save_dir``/``name``,
    ``trainer.default_root_dir``, ``hydra.run.dir``, ``hydra.sweep.dir``/``subdir``) with a
    ``..`` component. Values that cannot be resolved yet are left to :func:`validate`."""
    paths = _resolvable(cfg, "paths")
    keys = [f"paths.{k}" for k in paths] if isinstance(paths, DictConfig) else []
    checks = [("task_name", NAME), *((k, PATH) for k in keys), *PATH_RULES.items()]
    for key, (ok, allowed) in checks:
        value = _resolvable(cfg, key)
        if value is not _ABSENT and not ok(value):
            raise ConfigError(key, value, allowed)
    for key in HYDRA_DIRS if hydra is not None else ():
        value = _resolvable(hydra, key)  # sweep.subdir needs hydra.job.num: absent in a run
        if value is not _ABSENT and not PATH[0](str(value)):
            raise ConfigError(f"hydra.{key}", value, PATH[1])
    if hydra is not None:
        _no_secret_overrides(hydra)


def _no_secret_overrides(hydra: DictConfig) -> None:
    """A secret typed as an override would be written in plain text to .hydra/*.yaml,
    multirun.yaml, Hydra's log lines and the W&B run's command line."""
    tree = OmegaConf.to_container(hydra, resolve=False)  # the overrides as typed
    lines = list((tree.get("overrides") or {}).get("task") or [])
    lines += [f"{k}=" for k in (tree.get("sweeper") or {}).get("params") or {}]
    for line in lines:
        key = override_key(str(line))
        if is_secret_key(key):
            raise ConfigError(key, "<redacted>", f"no secret on the command line: {ENV_HINT}")


class SafeOutputPaths(Callback):
    """Hydra callback (``hydra.callbacks``): runs :func:`check_paths` before Hydra creates the
    run's or sweep's folder, so a refused path leaves nothing behind."""

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        self._check(config)
        _check_run_folder(config)

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        self._check(config)

    @staticmethod
    def _check(config: DictConfig) -> None:
        try:
            check_paths(config, config.hydra)
            _check_swept(config)
        except ConfigError as e:
            print(f"error: {e}", file=sys.stderr)
            sys.exit(2)


def _check_run_folder(config: DictConfig) -> None:
    """The run's folder, before Hydra rewrites its .hydra/ files (see biaslab.rundir)."""
    from biaslab import rundir
    from biaslab.seed_parallel import parallel_seeds
    from biaslab.seed_parallel.members import members

    try:
        cfg = rundir.hydra_run_config(config)
        done = rundir.check(cfg, members(cfg, parallel_seeds(cfg), []))
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    except OmegaConfBaseException:
        return  # a value that does not resolve: the run records it as any other
    if done is not None:
        print(
            f"nothing to do: {cfg.paths.output_dir} holds a finished run of this config; "
            "its results.json is unchanged",
            file=sys.stderr,
        )
        sys.exit(0)


def _check_swept(config: DictConfig) -> None:
    """Each value a sweep gives a path key: Hydra makes every job's folder (from a sweep.dir
    that may interpolate task_name) before the job's own check could refuse it."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    hydra = config.hydra
    lines = list(OmegaConf.to_container(hydra.overrides.task, resolve=False))
    params = OmegaConf.select(hydra, "sweeper.params")
    if isinstance(params, DictConfig):
        lines += [f"{k}={v}" for k, v in OmegaConf.to_container(params, resolve=False).items()]
    rules = {"task_name": NAME, **PATH_RULES, **{f"hydra.{k}": PATH for k in HYDRA_DIRS}}
    try:
        overrides = OverridesParser.create().parse_overrides(lines)
    except Exception:  # Hydra reports its own syntax errors
        return
    for override in overrides:
        key = override.key_or_group
        if not override.is_sweep_override() or not (key in rules or key.startswith("paths.")):
            continue
        ok, allowed = rules.get(key, PATH)
        try:
            values = list(override.sweep_string_iterator())
        except Exception:  # an interval or glob sweep: no values to list in advance
            continue
        for value in values:
            if not ok(value):
                raise ConfigError(key, value, allowed)


def _raw(tree: Any, key: str) -> Any:
    for part in key.split("."):
        tree = tree.get(part) if isinstance(tree, dict) else None
    return tree


def _check_resolves(cfg: DictConfig) -> None:
    """A missing value (``???``) or a broken interpolation, named like any other bad value."""
    try:
        OmegaConf.to_container(cfg, resolve=True, throw_on_missing=True)
    except OmegaConfBaseException as e:
        key = str(getattr(e, "full_key", "") or "config")
        tree = OmegaConf.to_container(cfg, resolve=False)
        raw = _raw(tree, key)
        # name the broken value itself, not a key that merely points at it (${seed})
        while isinstance(raw, str) and (ref := re.fullmatch(r"\$\{([\w.]+)\}", raw)):
            if not isinstance(_raw(tree, ref[1]), str) or "${" not in _raw(tree, ref[1]):
                break
            key, raw = ref[1], _raw(tree, ref[1])
        if isinstance(e, MissingMandatoryValue):
            raise ConfigError(key, raw, "a value: this key is mandatory") from None
        reason = str(e).splitlines()[0]
        raise ConfigError(key, raw, f"an interpolation that resolves ({reason})") from None


def _signature_chain(target: Any) -> list[Any] | None:
    """The ``__init__`` functions whose keyword arguments ``target`` accepts, or None when it
    takes any (``**kwargs``). biaslab's own classes pass ``**kwargs`` to their base class, so
    those are followed."""
    chain = [target]
    if isinstance(target, type):
        chain = [c.__dict__["__init__"] for c in target.__mro__ if "__init__" in c.__dict__]
    out = []
    for i, fn in enumerate(chain):
        try:
            params = inspect.signature(fn).parameters.values()
        except (TypeError, ValueError):
            return None
        out.append(fn)
        if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
            return out
        owner = getattr(fn, "__module__", "") or ""
        if not owner.startswith("biaslab.") or i + 1 == len(chain):
            return None
    return None


def _parameters(target: Any) -> list[str] | None:
    """The keyword arguments ``target`` accepts, or None when it takes any."""
    chain = _signature_chain(target)
    if chain is None:
        return None
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return [
        p.name
        for fn in chain
        for p in inspect.signature(fn).parameters.values()
        if p.kind in kinds and p.name != "self"
    ]


def _annotations(target: Any) -> dict[str, Any]:
    """Each argument's type annotation along the chain (the first, most derived, wins)."""
    out: dict[str, Any] = {}
    for fn in reversed(_signature_chain(target) or [target.__init__]):
        try:
            out.update(typing.get_type_hints(fn, include_extras=True))
        except Exception:  # an annotation that does not evaluate describes nothing here
            continue
    return out


def _check_types(cfg: DictConfig) -> None:
    """Each key of a group with ``_target_`` against the annotation of its constructor
    argument (:mod:`biaslab.schema`): the signature says what a key accepts."""
    for group, node in cfg.items():
        if isinstance(node, DictConfig) and "_target_" in node:
            _check_typed(str(group), node, get_object(node._target_))


def _check_typed(group: str, node: DictConfig, target: Any) -> None:
    hints = _annotations(target)
    for key in node:
        phrase = schema.allowed(hints.get(key))
        if phrase is None:
            continue
        value = _resolvable(node, str(key))
        if value is _ABSENT:
            continue
        if isinstance(value, (DictConfig, ListConfig)):
            value = OmegaConf.to_container(value)
        if not schema.accepts(hints[key], value):
            raise ConfigError(f"{group}.{key}", value, phrase)


BUILD_KEYS = ("model.compile",)  # read by biaslab.models.build, not passed to the model


def _check_known_keys(cfg: DictConfig) -> None:
    """Every key of a group with ``_target_`` must be an argument of it (``+model.foo=1``
    passes Hydra, then fails at instantiation, after the data is loaded)."""
    for group, node in cfg.items():
        if not isinstance(node, DictConfig) or "_target_" not in node:
            continue
        try:
            target = get_object(node._target_)
        except Exception:
            raise ConfigError(f"{group}._target_", node._target_, "an importable class") from None
        accepted = _parameters(target)
        if accepted is None:
            continue
        for key in node:
            if str(key).startswith("_") or key in accepted or f"{group}.{key}" in BUILD_KEYS:
                continue
            shown = [p for p in accepted if p not in ("in_shape", "num_classes", "params")]
            close = difflib.get_close_matches(str(key), shown, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            if not close and len(shown) <= 20:
                hint = f": {', '.join(shown)}"
            raise ConfigError(f"{group}.{key}", node[key], f"a parameter of {node._target_}{hint}")


# -- combinations ---------------------------------------------------------------------------

CNN = "biaslab.models.cnn.CNN"
LSTM = "biaslab.models.lstm.LSTM"
RESNET = "biaslab.models.resnet.ResNet"
# the sequence problems and the LSTM output each one needs
SEQUENCE_DATA = {"biaslab.data.sequence.Adding": "last", "biaslab.data.sequence.Copy": "sequence"}
IMAGE_DATA = ("biaslab.data.digits.", "biaslab.data.vision.")  # inputs shaped (C, H, W)


def _choice(cfg: DictConfig, group: str) -> str:
    """The group's option as typed (``model=cnn``), else its target's class name."""
    if HydraConfig.initialized():
        choice = HydraConfig.get().runtime.choices.get(group)
        if choice:
            return str(choice)
    return str(cfg[group].get("_target_", "?")).rsplit(".", 1)[-1].lower()


def _model_fits_data(cfg: DictConfig) -> None:
    model, data = cfg.get("model"), cfg.get("data")
    if model is None or data is None or "_target_" not in data:
        return
    target, needs = model.get("_target_"), SEQUENCE_DATA.get(data._target_)
    on = f"data={_choice(cfg, 'data')}"
    if needs and target != LSTM:
        raise ConfigError("model", _choice(cfg, "model"), f"lstm with {on}")
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
            "model", _choice(cfg, "model"), f"cnn or mlp with {on} (resnet needs images)"
        )
    depth = model.get("depth")
    if target == RESNET and depth != 18 and not (_int(depth) and depth >= 8 and depth % 6 == 2):
        raise ConfigError("model.depth", depth, "6n+2 (8, 14, 20, 32, ...) or 18 for resnet")


def _blocks(model: DictConfig) -> tuple[int, str]:
    if model.get("channels") is not None:
        return len(model.channels), f"model.channels has {len(model.channels)}"
    return model.depth, f"model.depth={model.depth}"


def _cnn_fits_input(cfg: DictConfig) -> None:
    """One kernel_size/stride/padding per block, and every block (and pool) has input left.
    The input length is known from the config for MNIST-1D (``final_seq_length``) only."""
    model, data = cfg.get("model"), cfg.get("data")
    if model is None or model.get("_target_") != CNN:
        return
    n, why = _blocks(model)
    per_block = {}
    for key in ("kernel_size", "stride", "padding"):
        v = model[key]
        if isinstance(v, ListConfig) and len(v) != n:
            raise ConfigError(f"model.{key}", v, f"one value or a list of {n} ({why})")
        per_block[key] = list(v) if isinstance(v, ListConfig) else [v] * n
    length = data.get("final_seq_length") if data is not None else None
    if not _int(length):
        return
    for i, (k, s, p) in enumerate(zip(*per_block.values(), strict=True)):
        if k > length + 2 * p:
            raise ConfigError(
                "model.kernel_size",
                model.kernel_size,
                f"at most {length + 2 * p} at block {i + 1} "
                f"(its input has {length} positions, padding {p})",
            )
        length = (length + 2 * p - k) // s + 1
        if model.pool == "max":
            if length < 2:
                raise ConfigError(
                    "model.pool",
                    "max",
                    f"none here: block {i + 1} leaves {length} position, too few to pool",
                )
            length //= 2


def _train_size(data: DictConfig) -> int | None:
    if "num_train" in data:
        return data.num_train
    if {"num_samples", "train_split", "val_fraction"} <= set(data):  # MNIST-1D, as generated
        n = int(data.num_samples * data.train_split)
        return n - round(n * data.val_fraction)
    return None


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


def _nesterov_needs_momentum(cfg: DictConfig) -> None:
    momentum = OmegaConf.select(cfg, "optimizer.momentum")
    if OmegaConf.select(cfg, "optimizer.nesterov") and not momentum:
        raise ConfigError("optimizer.momentum", momentum, "a momentum > 0 when nesterov=true")


def _schedule_fits_steps(cfg: DictConfig) -> None:
    """A schedule's length (T_max, total_steps) is by default trainer.max_steps: an invalid
    one is then blamed on max_steps, the key the user typed. OneCycleLR also raises when
    stepped past its total_steps."""
    scheduler, steps = cfg.get("scheduler"), OmegaConf.select(cfg, "trainer.max_steps")
    if not isinstance(scheduler, DictConfig):
        return
    raw = OmegaConf.to_container(scheduler, resolve=False)
    for key in ("T_max", "total_steps"):
        value = scheduler.get(key)
        if key not in scheduler or (_int(value) and value >= 1):
            continue
        if "trainer.max_steps" in str(raw[key]):
            on = f"scheduler={_choice(cfg, 'scheduler')}"
            raise ConfigError("trainer.max_steps", steps, f"an integer >= 1 with {on}")
        raise ConfigError(f"scheduler.{key}", value, "an integer >= 1")
    total = scheduler.get("total_steps")
    if total is not None and _int(steps) and steps >= 1 and total < steps:
        raise ConfigError(
            "scheduler.total_steps", total, f"an integer >= trainer.max_steps={steps}"
        )


def _validation_can_run(cfg: DictConfig) -> None:
    interval = cfg.trainer.get("val_check_interval")
    if isinstance(interval, float) and cfg.trainer.get("check_val_every_n_epoch", 1) is None:
        raise ConfigError(
            "trainer.val_check_interval",
            interval,
            "an integer number of steps when trainer.check_val_every_n_epoch=null",
        )


def _metric_is_recorded(cfg: DictConfig) -> None:
    """A sweeper reads ``optimized_metric`` from the finished run: a name the task never logs
    would score every trial NaN after all the training."""
    metric, data = cfg.get("optimized_metric"), cfg.get("data")
    if metric is None or data is None or "_target_" not in data:
        return
    from biaslab.task import TASKS  # imports Lightning: only once a config gets this far

    task = TASKS[getattr(get_object(data._target_), "task", "classification")]
    recorded = [*task.val_metrics, f"{task.best_metric}_best"]
    if metric not in recorded:
        allowed = f"one of {', '.join(recorded)} with data={_choice(cfg, 'data')}"
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
    if _int(devices) and devices > count:
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
    if _int(seed) and _int(k) and seed + k - 1 > SEED_MAX:
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
    _cnn_fits_input,
    _batch_fits_data,
    _forget_bias_needs_bias,
    _nesterov_needs_momentum,
    _schedule_fits_steps,
    _validation_can_run,
    _metric_is_recorded,
    _device_exists,
    _data_dir_usable,
    _training_ends,
    _seeds_fit,
    _resume_or_overwrite,
)


def validate(cfg: DictConfig) -> None:
    """Raise :class:`ConfigError` for the first value that cannot work: unresolvable values,
    unsafe output paths, keys the target does not take, each value against :data:`RULES`
    (in their order), then against its constructor's annotation, then the combinations."""
    _check_resolves(cfg)
    check_paths(cfg, HydraConfig.get() if HydraConfig.initialized() else None)
    _check_known_keys(cfg)
    _check(cfg, RULES)
    _check_types(cfg)
    for check in COMBINATIONS:
        check(cfg)
