"""SIGTERM and SIGINT end a run honestly (a SLURM time limit, ``timeout``, ``docker stop``,
Ctrl+C): training stops at the end of the step under way (after its validation, if one runs
at it), ``checkpoints/last.ckpt`` is saved when checkpointing is on, and :class:`Interrupted`
is raised for the run's record to say ``interrupted`` with the signal and the step. The
process then exits 128 + the signal's number (130 for SIGINT, 143 for SIGTERM).

Outside the training loop (loading data, testing) a signal interrupts at once; so does a
second signal while the first waits for its step to end.

Under DDP every rank stops at the same step: at each step's end the ranks agree on whether any
of them holds a signal (one all-reduce), so the checkpoint, a collective, is saved by all of
them at once (:mod:`biaslab.run.distributed` passes the main process's signal on to its ranks).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import lightning as L
import torch

from biaslab.resume.checkpointing import AtStepEnd

SIGNALS = (signal.SIGTERM, signal.SIGINT)


class Interrupted(BaseException):
    """A run stopped by a signal. A BaseException, like KeyboardInterrupt, so that no
    ``except Exception`` on the way takes it for an error of the run."""

    def __init__(self, signum: int, step: int | None = None, checkpoint: str | None = None):
        self.signum, self.step, self.checkpoint = signum, step, checkpoint
        self.signal = signal.Signals(signum).name
        at = f" at step {step}" if step is not None else ""
        super().__init__(f"interrupted by {self.signal}{at}")

    @property
    def exit_code(self) -> int:
        return 128 + self.signum

    def record(self) -> dict[str, Any]:
        return {"signal": self.signal, "step": self.step, "checkpoint": self.checkpoint}


class StopOnSignal(AtStepEnd):
    """The signal handler of a run, and the callback that acts on a signal at a step's end.
    ``save(trainer)`` saves the checkpoint and returns its path (None: checkpointing off)."""

    def __init__(self, save: Callable[[L.Trainer], str | None]):
        self.save = save
        self.pending: int | None = None
        self.trainer: L.Trainer | None = None
        self.training = False

    def handle(self, signum: int, frame: Any) -> None:
        if self.training and self.pending is None:
            self.pending = signum
            # Lightning's own SIGTERM handler, which ran first, would stop mid-validation
            # or after the step's checkpoint point: this callback stops the run instead.
            connector = getattr(self.trainer, "_signal_connector", None)
            if connector is not None:
                connector.received_sigterm = False
            return
        step = self.trainer.global_step if self.trainer is not None else None
        raise Interrupted(signum, step)

    def on_train_start(self, trainer, pl_module) -> None:
        self.trainer, self.training = trainer, True
        if trainer.world_size > 1 and threading.current_thread() is threading.main_thread():
            # Lightning's own SIGTERM handler runs a broadcast inside the handler, wherever
            # this rank is: out of step with the other ranks' collectives. Ours alone then.
            signal.signal(signal.SIGTERM, self.handle)

    def on_train_end(self, trainer, pl_module) -> None:
        self.training = False
        # arrived at the last step, after its end (under DDP every rank asks: one collective)
        if self.pending is not None or trainer.world_size > 1:
            self.step_end(trainer)

    def on_exception(self, trainer, pl_module, exception) -> None:
        self.training = False

    def step_end(self, trainer: L.Trainer) -> None:
        signum = self._agreed(trainer) if trainer.world_size > 1 else self.pending
        if signum is None:
            return
        self.pending = None
        self.training = False
        raise Interrupted(signum, trainer.global_step, self.save(trainer))

    def _agreed(self, trainer: L.Trainer) -> int | None:
        """The signal any rank holds (the larger number if two): every rank stops at this
        step or none does."""
        flag = torch.tensor([self.pending or 0], device=trainer.strategy.root_device)
        torch.distributed.all_reduce(flag, op=torch.distributed.ReduceOp.MAX)
        return int(flag.item()) or None


@contextmanager
def handled(stop: StopOnSignal) -> Iterator[StopOnSignal]:
    """Route SIGTERM and SIGINT to ``stop`` while the block runs (main thread only: Python
    delivers signals there), restoring the previous handlers after."""
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    previous = {s: signal.signal(s, stop.handle) for s in SIGNALS}
    try:
        yield stop
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
