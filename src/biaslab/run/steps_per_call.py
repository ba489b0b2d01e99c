"""``train.steps_per_call=K``: K optimizer steps inside each Lightning training step.

Lightning's own work around a training step (hook dispatch, the optimizer closure, progress
counters) is paid once per call, not once per optimizer step; on a small model on a CPU it is
a large part of the step (docs/performance.md). A call takes K consecutive batches of the same
order (:class:`~biaslab.data.base.Chunks`) and steps on each in the order Lightning's automatic
loop does (:meth:`biaslab.tasks.base.Task.training_step`), so a run trains on the same
batches to the same weights. The trainer then counts calls where the config counts steps: its
validation and logging intervals are divided by K here, and its loggers are handed steps, not
calls.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from lightning.pytorch.loggers import Logger
from omegaconf import DictConfig, OmegaConf

from biaslab.config.optimization import resolve_steps_per_call as resolve

__all__ = ["KEY", "StepsLogger", "resolve", "steps_per_call", "trainer_overrides"]

KEY = "train.steps_per_call"


def steps_per_call(cfg: DictConfig) -> int:
    """K of ``train.steps_per_call`` once :func:`resolve` has replaced ``auto``; 1 when absent
    or not an integer > 1 (an invalid value is refused by :func:`biaslab.config.validate`)."""
    k = OmegaConf.select(cfg, KEY, default=1, throw_on_resolution_failure=False)
    return k if isinstance(k, int) and not isinstance(k, bool) and k > 1 else 1


def trainer_overrides(cfg: DictConfig, k: int) -> dict[str, Any]:
    """The Trainer arguments that count training calls, for K steps a call; gradient clipping
    is off in the Trainer (Lightning clips only in its automatic loop): the task clips."""
    if k == 1:
        return {}
    t = cfg.trainer
    return {
        "val_check_interval": t.val_check_interval // k,
        "log_every_n_steps": t.log_every_n_steps // k,
        "gradient_clip_val": None,
        "gradient_clip_algorithm": None,
    }


class StepsLogger(Logger):
    """Hands ``logger`` the step a run of one step per call would log at, where Lightning
    gives its count of calls: the step index during training (Lightning logs the 0-based
    index of the step under way) and the step count after it, which is the trainer's step
    count less the calls Lightning's figure is behind it. The epoch is the task's count
    (:meth:`biaslab.tasks.base.Task.epochs_done`: the loader of K-step calls has no end, so the
    trainer's own epoch stays 0 until the fit ends)."""

    def __init__(
        self,
        logger: Logger,
        k: int,
        global_step: Callable[[], int],
        epochs: Callable[[], int],
    ):
        super().__init__()
        self.logger, self.k = logger, k
        self.global_step, self.epochs = global_step, epochs

    @property
    def name(self) -> str | None:
        return self.logger.name

    @property
    def version(self) -> Any:
        return self.logger.version

    @property
    def save_dir(self) -> str | None:
        return self.logger.save_dir

    @property
    def experiment(self) -> Any:
        return self.logger.experiment

    def log_hyperparams(self, params: Any, *args: Any, **kwargs: Any) -> None:
        self.logger.log_hyperparams(params, *args, **kwargs)

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        if step is None:
            self.logger.log_metrics(metrics)
            return
        done = self.global_step()
        steps = done - (done // self.k - step)
        if "epoch" in metrics:
            metrics = {**metrics, "epoch": self.epochs()}
        self.logger.log_metrics(metrics, step=steps)

    def after_save_checkpoint(self, checkpoint_callback: Any) -> None:
        self.logger.after_save_checkpoint(checkpoint_callback)  # e.g. W&B's log_model

    def __getattr__(self, name: str) -> Any:
        # the wrapped logger's own methods (W&B's log_image, log_table, ...) stay reachable
        if name == "logger":
            raise AttributeError(name)
        return getattr(self.logger, name)

    def save(self) -> None:
        self.logger.save()

    def finalize(self, status: str) -> None:
        self.logger.finalize(status)
