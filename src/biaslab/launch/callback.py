"""The Hydra callback that claims a run's or sweep's folder before Hydra writes into it
(``hydra.callbacks.one_writer``, after ``safe_paths`` has checked the paths).

- **One writer per folder**: the folder's lock (:mod:`biaslab.launch.lock`) is taken first and
  held until the process exits; a second run or sweep into the same folder is refused with one
  line naming the holder's PID, and writes nothing.
- **A run**: its folder is then checked (:func:`biaslab.resume.rundir.check_job`) before Hydra
  rewrites its ``.hydra/``; ``resume=true`` on a finished run of this config has nothing to do.
- **A sweep whose jobs are known up front** (Hydra's basic sweeper): every job's folder is
  checked, and packed seeds that two jobs would both train are refused, before Hydra writes
  ``multirun.yaml`` or any job's ``.hydra/``; refused jobs get one line each, exit 2.
  Sweepers that make jobs as they go (Optuna) meet the same checks in each job
  (:func:`biaslab.run.train.main`).
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.errors import HydraException
from hydra.experimental.callback import Callback
from omegaconf import DictConfig
from omegaconf.errors import OmegaConfBaseException

from biaslab.config import ConfigError
from biaslab.launch import sweep_plan
from biaslab.launch.lock import LOCK_FILE, FolderLocked, hold
from biaslab.records.results import FILENAME
from biaslab.resume import rundir

SHOWN = 10  # refused jobs listed one by one; the rest are counted


class OneWriter(Callback):
    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        folder = str(config.hydra.run.dir)
        try:
            claim("hydra.run.dir", folder)
            cfg = rundir.job_config(config, folder)
            done = rundir.check_job(cfg)
        except ConfigError as e:
            _refuse([f"error: {e}"])
        except OmegaConfBaseException:
            return  # a value that does not resolve: the run records it as any other
        if done is not None:
            print(
                f"nothing to do: {cfg.paths.output_dir} holds a finished run of this config; "
                f"its {FILENAME} is unchanged",
                file=sys.stderr,
            )
            sys.exit(0)

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        saved = HydraConfig.instance().cfg
        try:
            lines = _check_sweep(config)
        except ConfigError as e:
            lines = [f"error: {e}"]
        finally:
            if saved is not None:  # composing the jobs set it to each in turn
                HydraConfig.instance().set_config(saved)
        if lines:
            _refuse(lines)


def claim(key: str, folder: str) -> None:
    """Hold ``folder``'s lock for this process, or raise :class:`ConfigError` naming ``key``."""
    try:
        hold(folder)
    except FolderLocked as e:
        holder = f"process {e.pid}" if e.pid else "another process"
        raise ConfigError(
            key,
            folder,
            f"a folder no other run or sweep is writing ({holder} holds {LOCK_FILE} there): "
            f"wait for it to end, or choose another {key}",
        ) from None
    except OSError as e:
        raise ConfigError(key, folder, f"a folder that can be created ({e.strerror})") from None


def _check_sweep(config: DictConfig) -> list[str]:
    """Take the sweep folder's lock; return one line per job of the sweep that would be
    refused (the first :data:`SHOWN`, then a count). Overlapping packed seeds are refused
    before the lock, which creates the folder. Only a sweeper that knows its jobs up front
    is checked job by job."""
    folder = str(config.hydra.sweep.dir)
    compose = functools.cache(functools.partial(sweep_plan.hydra_config, config))
    try:
        jobs = sweep_plan.planned(config) or []
        groups = sweep_plan.same_but_seeds(jobs)
        if groups and sweep_plan.may_pack(config, jobs):
            sweep_plan.check_seed_overlap(groups, compose)
    except (HydraException, OmegaConfBaseException):
        jobs = []  # an override or a job Hydra cannot parse or compose: Hydra says so itself
    claim("hydra.sweep.dir", folder)
    if not (jobs and _holds_runs(Path(folder))):
        return []
    try:
        composed = [compose(job) for job in jobs]
    except (HydraException, OmegaConfBaseException):
        return []
    lines = []
    for job, cfg in zip(jobs, composed, strict=True):
        try:
            rundir.check_job(rundir.job_config(cfg, sweep_plan.output_dir(cfg)))
        except ConfigError as e:
            lines.append(f"error: job {job.num}: {e}")
        except OmegaConfBaseException:
            continue  # the job records it as any other
    if len(lines) > SHOWN:
        lines = [*lines[:SHOWN], f"error: and {len(lines) - SHOWN} more of {len(jobs)} jobs"]
    return lines


def _holds_runs(folder: Path) -> bool:
    """Whether any job folder of the sweep holds a record or a checkpoint to protect."""
    return any(folder.rglob(FILENAME)) or any(folder.rglob(rundir.CHECKPOINT.name))


def _refuse(lines: list[str]) -> None:
    print("\n".join(lines), file=sys.stderr)
    sys.exit(2)
