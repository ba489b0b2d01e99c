"""The Hydra callback that claims a run's or sweep's folder before Hydra writes into it
(``hydra.callbacks.one_writer``, after ``safe_paths`` has checked the paths).

- **One writer per folder**: the folder's lock (:mod:`biaslab.folder_lock`) is taken first and
  held until the process exits; a second run or sweep into the same folder is refused with one
  line naming the holder's PID, and writes nothing.
- **A run**: its folder is then checked (:func:`biaslab.rundir.check_job`) before Hydra
  rewrites its ``.hydra/``; ``resume=true`` on a finished run of this config has nothing to do.
- **A sweep whose jobs are known up front** (Hydra's basic sweeper): every job's folder is
  checked, and packed seeds that two jobs would both train are refused, before Hydra writes
  ``multirun.yaml`` or any job's ``.hydra/``; refused jobs get one line each, exit 2.
  Sweepers that make jobs as they go (Optuna) meet the same checks in each job
  (:func:`biaslab.train.main`).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.errors import HydraException
from hydra.experimental.callback import Callback
from omegaconf import DictConfig
from omegaconf.errors import OmegaConfBaseException

from biaslab import rundir, sweep_plan
from biaslab.config import ConfigError
from biaslab.folder_lock import LOCK_FILE, FolderLocked, hold
from biaslab.results import FILENAME

SHOWN = 10  # refused jobs listed one by one; the rest are counted


class OneWriter(Callback):
    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        folder = str(config.hydra.run.dir)
        try:
            claim("hydra.run.dir", folder)
            done = rundir.check_job(rundir.job_config(config, folder))
        except ConfigError as e:
            _refuse([f"error: {e}"])
        except OmegaConfBaseException:
            return  # a value that does not resolve: the run records it as any other
        if done is not None:
            print(
                f"nothing to do: {folder} holds a finished run of this config; "
                f"its {FILENAME} is unchanged",
                file=sys.stderr,
            )
            sys.exit(0)

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        try:
            claim("hydra.sweep.dir", str(config.hydra.sweep.dir))
            lines = _refused_jobs(config)
        except ConfigError as e:
            lines = [f"error: {e}"]
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


def _refused_jobs(config: DictConfig) -> list[str]:
    """One line per job of the sweep that would be refused (the first :data:`SHOWN`, then a
    count); none when the sweeper makes its jobs as it goes."""
    jobs = sweep_plan.planned(config)
    folder = Path(str(config.hydra.sweep.dir))
    held = any(folder.rglob(FILENAME)) or any(folder.rglob(rundir.CHECKPOINT.name))
    packs = bool(jobs) and sweep_plan.may_pack(config, jobs)
    if not jobs or not (held or packs):
        return []  # a new sweep of lone runs: nothing to compose
    saved = HydraConfig.instance().cfg
    try:
        composed = [sweep_plan.hydra_config(config, job) for job in jobs]
    except (HydraException, OmegaConfBaseException):
        return []  # Hydra reports a job it cannot compose itself
    try:
        if packs:
            sweep_plan.check_seed_overlap(jobs, composed)
        lines = []
        for job, cfg in zip(jobs, composed, strict=True) if held else ():
            try:
                rundir.check_job(rundir.job_config(cfg, sweep_plan.output_dir(cfg)))
            except ConfigError as e:
                lines.append(f"error: job {job.num}: {e}")
            except OmegaConfBaseException:
                continue  # the job records it as any other
    finally:
        if saved is not None:
            HydraConfig.instance().set_config(saved)
    if len(lines) > SHOWN:
        lines = [*lines[:SHOWN], f"error: and {len(lines) - SHOWN} more of {len(jobs)} jobs"]
    return lines


def _refuse(lines: list[str]) -> None:
    print("\n".join(lines), file=sys.stderr)
    sys.exit(2)
