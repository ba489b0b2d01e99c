"""Checkpoints that resume exactly and never leave a partial file.

- Written atomically in their own folder (:class:`AtomicCheckpointIO`): Lightning's default
  writes through a temp file in the system temp folder and copies it across filesystems, which
  on a full disk leaves a truncated ``last.ckpt``. A full disk raises :class:`DiskFull`
  (torch's own error for it is a RuntimeError).
- Taken at the end of a whole step (:class:`AtStepEnd`): after that step's validation when one
  runs at it. A checkpoint saved before the validation of its step resumes past it: Lightning
  counts that validation as done, and the resumed run never runs it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.plugins.io import TorchCheckpointIO

from biaslab.adapters.lightning_loop import validates_now
from biaslab.records.atomic import write_file_atomic

LAST = "last.ckpt"


class AtomicCheckpointIO(TorchCheckpointIO):
    """torch.save to a temp file beside the checkpoint, then a rename
    (:mod:`biaslab.records.atomic`)."""

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: Any, storage_options: Any = None
    ) -> None:
        if storage_options is not None:
            raise TypeError("AtomicCheckpointIO takes no storage_options")
        # torch reports a full disk as a RuntimeError: write_file_atomic finds the OSError
        # behind it and raises DiskFull
        write_file_atomic(path, lambda f: torch.save(checkpoint, f))


class AtStepEnd(L.Callback):
    """Calls :meth:`step_end` once per training step, when the step is whole: at
    ``on_train_batch_end``, or after the validation that runs at that step."""

    _after_validation = False

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if validates_now(trainer):
            self._after_validation = True
        else:
            self.step_end(trainer)

    def on_validation_end(self, trainer, pl_module) -> None:
        if self._after_validation and not trainer.sanity_checking:
            self._after_validation = False
            self.step_end(trainer)

    def step_end(self, trainer: L.Trainer) -> None:
        raise NotImplementedError


class PeriodicCheckpoint(AtStepEnd):
    """``<folder>/last.ckpt`` every ``every_n_steps`` optimizer steps."""

    def __init__(self, folder: str | Path, every_n_steps: int):
        self.path = Path(folder) / LAST
        self.every_n_steps = every_n_steps

    def step_end(self, trainer: L.Trainer) -> None:
        if trainer.global_step % self.every_n_steps == 0:
            trainer.save_checkpoint(self.path, weights_only=False)
