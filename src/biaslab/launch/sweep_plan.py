"""The jobs of a sweep whose sweeper knows them up front (Hydra's basic sweeper), as it and
its launcher will make them: each job's overrides, number, folder and config. Read at the
launch, before Hydra writes ``multirun.yaml`` or any job's ``.hydra/``, so that what would be
refused job by job is refused for the whole sweep before anything is written."""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

from omegaconf import DictConfig, OmegaConf, open_dict

from biaslab.adapters.hydra_sweep import BASIC_SWEEPER, compose_job, expand
from biaslab.config import ConfigError
from biaslab.seed_parallel import KEY, parallel_seeds


@dataclass(frozen=True)
class Job:
    num: int
    overrides: tuple[str, ...]


def _key(override: str) -> str:
    return override.split("=", 1)[0].lstrip("+~")


def planned(config: DictConfig) -> list[Job] | None:
    """The jobs of the sweep ``config`` (the multirun's composed config) launches, numbered as
    the launcher numbers them; None when its sweeper makes jobs as it goes (Optuna, ...)."""
    sweeper = config.hydra.sweeper
    if sweeper.get("_target_") != BASIC_SWEEPER:
        return None
    params = sweeper.get("params")
    params = OmegaConf.to_container(params, resolve=False) if params is not None else {}
    lines = [f"{k}={v}" for k, v in params.items()]  # as BasicSweeper, then the command's
    lines += OmegaConf.to_container(config.hydra.overrides.task, resolve=False)
    jobs = expand(lines, sweeper.get("max_batch_size"))
    return [Job(i, tuple(o)) for i, o in enumerate(jobs)]


def hydra_config(config: DictConfig, job: Job) -> DictConfig:
    """The job's whole config (``hydra`` node included) as the basic launcher composes it."""
    composed = compose_job(config, job.overrides)
    with open_dict(composed):
        composed.hydra.job.id = job.num
        composed.hydra.job.num = job.num
    return composed


def output_dir(composed: DictConfig) -> str:
    """The job's folder: ``hydra.sweep.dir``/``hydra.sweep.subdir``, as Hydra's run_job."""
    return os.path.join(str(composed.hydra.sweep.dir), str(composed.hydra.sweep.subdir))


def may_pack(config: DictConfig, jobs: list[Job]) -> bool:
    """Whether any job may train several seeds (``train.parallel_seeds`` > 1)."""
    return parallel_seeds(config) > 1 or any(_key(o) == KEY for j in jobs for o in j.overrides)


def same_but_seeds(jobs: list[Job]) -> list[list[Job]]:
    """The groups of two or more jobs whose overrides differ only in ``seed`` and
    ``train.parallel_seeds``: one config, whose members the report pools by seed."""
    groups: dict[tuple[str, ...], list[Job]] = defaultdict(list)
    for job in jobs:
        groups[tuple(sorted(o for o in job.overrides if _key(o) not in ("seed", KEY)))].append(job)
    return [g for g in groups.values() if len(g) > 1]


def check_seed_overlap(groups: list[list[Job]], compose: Callable[[Job], DictConfig]) -> None:
    """Refuse jobs of one config whose packed seeds ``seed .. seed+K-1`` overlap: those seeds
    would be trained, and recorded, twice. ``compose``: a job's config."""
    for jobs in groups:
        group = []
        for job in jobs:
            cfg = compose(job)
            seed = OmegaConf.select(cfg, "seed", throw_on_resolution_failure=False)
            if isinstance(seed, int) and not isinstance(seed, bool):  # else validate refuses it
                group.append((seed, parallel_seeds(cfg), job))
        group.sort(key=lambda g: g[0])
        trained: dict[int, Job] = {}
        for seed, k, job in group:
            twice = [s for s in range(seed, seed + k) if s in trained]
            if twice:
                raise ConfigError(
                    "seed",
                    ",".join(str(s) for s, _, _ in group),
                    f"start seeds at least {k} apart with {KEY}={k} (jobs "
                    f"{trained[twice[0]].num} and {job.num} would both train seed "
                    f"{', '.join(map(str, twice))}), e.g. seed="
                    + ",".join(str(group[0][0] + i * k) for i in range(len(group))),
                )
            trained.update({s: job for s in range(seed, seed + k)})
