"""The W&B run a ``WandbLogger`` holds, without starting one, and what it passes to
``wandb.init``.

``WandbLogger.experiment`` calls ``wandb.init`` when no run exists yet; closing a job (or
abandoning a failed ``wandb.init``) must not start a run, so these read and clear the logger's
``_experiment`` attribute (lightning 2.2-2.6) instead; its ``_wandb_init`` holds the
arguments ``wandb.init`` will get.
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


def without_anonymous(logger: Logger) -> Logger:
    """Lightning's WandbLogger passes ``anonymous=None`` to ``wandb.init`` when it is not set,
    and W&B warns on any value of that retired setting ("The anonymous setting has no effect")
    at every run: leave it out unless it was asked for."""
    init = getattr(logger, "_wandb_init", None)
    if isinstance(init, dict) and init.get("anonymous") is None:
        init.pop("anonymous", None)
    return logger
