"""Experiment loggers: build the one the config names, and close it after each job.

A Hydra multirun runs every job in one process; a W&B run left open would swallow the next
job's logs (wandb#1314), so :func:`finish` ends it after every job, whatever happened.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from lightning.pytorch.loggers import Logger
from omegaconf import DictConfig, OmegaConf


def job_name() -> str | None:
    """The job's command-line overrides, e.g. ``model.bias=false,model.width=8``."""
    if not HydraConfig.initialized():
        return None
    return HydraConfig.get().job.override_dirname or None


def make_logger(cfg: DictConfig) -> Logger | None:
    """The logger of ``cfg.logger`` (None for ``logger=none``), with W&B's run name defaulting
    to the job's overrides and the full resolved config attached."""
    if "_target_" not in cfg.logger:
        return None
    extra: dict[str, Any] = {}
    if cfg.logger._target_.endswith("WandbLogger"):
        if cfg.logger.get("name") is None:
            extra["name"] = job_name()
        # A run started while another is open would be merged into it: start fresh.
        extra["reinit"] = "finish_previous"
    Path(cfg.logger.save_dir).mkdir(parents=True, exist_ok=True)
    logger = instantiate(cfg.logger, **extra)
    logger.log_hyperparams(OmegaConf.to_container(cfg, resolve=True))
    return logger


def run_location(logger: Logger | None) -> str | None:
    """Where the logger keeps this run: the W&B run folder or the CSV log folder."""
    if logger is None:
        return None
    if hasattr(logger.experiment, "dir") and hasattr(logger.experiment, "settings"):
        return str(Path(logger.experiment.dir).parent)  # .../wandb/offline-run-*/files → run
    return logger.log_dir


def finish(logger: Logger | None, summary: dict[str, Any], status: str) -> None:
    """Write the final summary and close the run (W&B: ``run.finish``), so the next job of a
    multirun gets a run of its own."""
    if logger is None:
        return
    experiment = getattr(logger, "_experiment", None)
    if experiment is not None and hasattr(experiment, "summary"):
        experiment.summary.update(summary)
        experiment.finish(exit_code=0 if status == "completed" else 1)
    else:
        logger.finalize(status)
