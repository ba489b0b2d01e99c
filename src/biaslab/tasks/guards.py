"""Stop a run whose loss stops being a number, and remember where it happened."""

from __future__ import annotations

import math

import lightning as L
import torch


class Diverged(RuntimeError):
    """Raised to end ``fit`` when the training loss becomes NaN or infinite."""

    def __init__(self, step: int, loss: float, last_finite_loss: float | None):
        self.step, self.loss, self.last_finite_loss = step, loss, last_finite_loss
        super().__init__(
            f"training loss became {loss} at step {step} (last finite loss: {last_finite_loss})"
        )


def check_due(step: int, every_n_steps: int, pl_module, trainer) -> bool:
    """Whether the training call that ended at ``step`` passed a multiple of ``every_n_steps``
    (a call takes ``steps_per_call`` steps: one, unless the job packs several) or the last
    step."""
    before = step - getattr(pl_module, "steps_per_call", 1)
    return step // every_n_steps > before // every_n_steps or step == trainer.max_steps


class DivergenceGuard(L.Callback):
    """Checks the training loss every ``every_n_steps`` steps (a check costs a device sync, so
    not every step on a GPU); a NaN/inf loss raises :class:`Diverged`. Once the weights hold a
    NaN every later loss is NaN too, so a sparse check still catches it, a few steps late.

    Under DDP the checked loss is the mean over ranks, so a NaN on one rank stops every rank at
    the same step: a rank stopping alone would leave the others waiting in a collective."""

    def __init__(self, every_n_steps: int = 10):
        self.every_n_steps = every_n_steps
        self.last_finite_loss: float | None = None

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        step = trainer.global_step
        if not check_due(step, self.every_n_steps, pl_module, trainer):
            return
        loss = outputs["loss"] if isinstance(outputs, dict) else outputs
        if loss is None:
            return
        if not isinstance(loss, torch.Tensor):
            loss = torch.tensor(float(loss), device=pl_module.device)
        # a copy: the all-reduce works in place
        value = float(trainer.strategy.reduce(loss.detach().float().clone(), reduce_op="mean"))
        if not math.isfinite(value):
            raise Diverged(step, value, self.last_finite_loss)
        self.last_finite_loss = value
