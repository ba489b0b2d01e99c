"""Output locations, checked before Hydra creates any folder (:class:`SafeOutputPaths`) and
again by ``validate``; secret-looking overrides are refused there too."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from biaslab.config.rules import (
    ABSENT,
    HYDRA_DIRS,
    NAME,
    PATH,
    PATH_RULES,
    ConfigError,
    resolvable,
)
from biaslab.records.secrets import ENV_HINT, secret_in_override

# the kernel's views of processes and devices: no run's files can be kept there
KERNEL_FILESYSTEMS = (Path("/proc"), Path("/sys"))


def check_paths(cfg: DictConfig, hydra: DictConfig | None = None) -> None:
    """Refuse a ``task_name`` that is not a plain name, and any output location (every
    ``paths.*`` key, ``data.data_dir``, ``logger.save_dir``/``name``,
    ``trainer.default_root_dir``, ``hydra.run.dir``, ``hydra.sweep.dir``/``subdir``) with a
    ``..`` component. Values that cannot be resolved yet are left to :func:`validate`."""
    paths = resolvable(cfg, "paths")
    keys = [f"paths.{k}" for k in paths] if isinstance(paths, DictConfig) else []
    checks = [("task_name", NAME), *((k, PATH) for k in keys), *PATH_RULES.items()]
    for key, (ok, allowed) in checks:
        value = resolvable(cfg, key)
        if value is not ABSENT and not ok(value):
            raise ConfigError(key, value, allowed)
    for key in HYDRA_DIRS if hydra is not None else ():
        value = resolvable(hydra, key)  # sweep.subdir needs hydra.job.num: absent in a run
        if value is None and key == "output_subdir":  # null: Hydra writes no .hydra/ folder
            continue
        if value is not ABSENT and not PATH[0](str(value)):
            raise ConfigError(f"hydra.{key}", value, PATH[1])
        if value is not ABSENT and key in ("run.dir", "sweep.dir"):
            _usable_folder(f"hydra.{key}", str(value))
    if hydra is not None:
        _no_secret_overrides(hydra)


def _usable_folder(key: str, value: str) -> None:
    """A run's or sweep's folder must be a folder of its own that can be written: not the
    filesystem root (records and checkpoints would land in /), not a file or device, not
    under a read-only folder. Checked before Hydra creates it."""
    path = Path(value).expanduser().resolve()
    if path == Path(path.anchor):
        raise ConfigError(key, value, f"a folder of its own, not the filesystem root {path}")
    kernel = next((p for p in KERNEL_FILESYSTEMS if path.is_relative_to(p)), None)
    if kernel is not None:
        raise ConfigError(key, value, f"a folder on a disk, not under {kernel} (the kernel's)")
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if existing.exists() and not existing.is_dir():
        raise ConfigError(key, value, f"a folder ({existing} is not one)")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ConfigError(key, value, f"a folder that can be written ({existing} is read-only)")


def _no_secret_overrides(hydra: DictConfig) -> None:
    """A secret typed as an override, ``hydra.*`` ones included, would be written in plain
    text to .hydra/*.yaml, multirun.yaml, Hydra's log lines and the W&B run's command line."""
    tree = OmegaConf.to_container(hydra, resolve=False)  # the overrides as typed
    typed = tree.get("overrides") or {}
    lines = [*(typed.get("task") or []), *(typed.get("hydra") or [])]
    lines += [f"{k}={v}" for k, v in ((tree.get("sweeper") or {}).get("params") or {}).items()]
    for line in lines:
        key = secret_in_override(str(line))
        if key is not None:
            raise ConfigError(key, "<redacted>", f"no secret on the command line: {ENV_HINT}")


class SafeOutputPaths(Callback):
    """Hydra callback (``hydra.callbacks``): runs :func:`check_paths` before Hydra creates the
    run's or sweep's folder, so a refused path leaves nothing behind."""

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        self._check(config)

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
