"""Hydra's basic sweeper and launcher: how they expand a sweep into jobs and compose each job.

A sweep's refusals are decided for every job before Hydra writes anything
(:mod:`biaslab.launch.sweep_plan`), and the benchmark and tests list a preset's jobs
(:mod:`biaslab.config.compose`): both must expand a sweep exactly as Hydra will. Hydra 1.3 has no
public name for what its basic sweeper and launcher call: ``BasicSweeper.split_arguments`` and
the config loader's ``load_sweep_config`` (hydra-core is pinned below 1.4).
"""

from __future__ import annotations

from collections.abc import Sequence

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import DictConfig

BASIC_SWEEPER = f"{BasicSweeper.__module__}.{BasicSweeper.__name__}"


def _loader():
    hydra = GlobalHydra.instance()
    return hydra.hydra.config_loader if hydra.is_initialized() else None


def expand(lines: Sequence[str], max_batch_size: int | None = None) -> list[list[str]]:
    """Every job's overrides, in the order the basic launcher numbers the jobs (a key given
    again takes the place of its first mention)."""
    parsed = OverridesParser.create(config_loader=_loader()).parse_overrides(list(lines))
    batches = BasicSweeper.split_arguments(parsed, max_batch_size)
    return [list(job) for batch in batches for job in batch]


def compose_job(config: DictConfig, overrides: Sequence[str]) -> DictConfig:
    """One job's whole config (``hydra`` node included) as the basic launcher composes it from
    the sweep's ``config`` (needs the running Hydra, as in a Hydra callback)."""
    return _loader().load_sweep_config(config, list(overrides))
