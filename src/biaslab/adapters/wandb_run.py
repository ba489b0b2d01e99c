"""The W&B run a ``WandbLogger`` holds, without starting one.

``WandbLogger.experiment`` calls ``wandb.init`` when no run exists yet; closing a job (or
abandoning a failed ``wandb.init``) must not start a run, so these read and clear the logger's
``_experiment`` attribute (lightning 2.2-2.6) instead.
"""

from __future__ import annotations

from typing import Any

from lightning.pytorch.loggers import Logger


def started_run(logger: Logger) -> Any | None:
    """The logger's run if one was started, else None (never starts one)."""
    return getattr(logger, "_experiment", None)


def forget_run(logger: Logger) -> None:
    """Make the logger start a new run on its next use."""
    logger._experiment = None  # type: ignore[attr-defined]
