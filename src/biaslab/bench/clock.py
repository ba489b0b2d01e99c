"""Timestamps shared by both training paths: the raw loop calls :class:`Windows` itself, the
project path through the Lightning callbacks here, added with ``train(cfg, callbacks=...)``;
:func:`take_turns` times two arms in alternation."""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass

import torch
from lightning.pytorch.callbacks import Callback


def sync(device: torch.device) -> None:
    # CUDA kernels run asynchronously: without a sync a timestamp measures the launch queue.
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class Windows:
    """Timestamps after given step counts: ``windows`` timed windows of ``window`` steps after
    ``warmup`` steps, and the samples trained so far at each."""

    def __init__(self, warmup: int, window: int, windows: int, device: torch.device):
        self.marks = {warmup + i * window for i in range(windows + 1)}
        self.device = device
        self.steps = self.samples = 0
        self.stamps: list[tuple[float, int]] = []  # (time, samples so far)

    @property
    def total_steps(self) -> int:
        return max(self.marks)

    def step(self, samples: int) -> None:
        self.steps += 1
        self.samples += samples
        if self.steps in self.marks:
            sync(self.device)
            self.stamps.append((time.perf_counter(), self.samples))

    def rates(self) -> list[float]:
        """Samples/s of each window."""
        pairs = zip(self.stamps, self.stamps[1:], strict=False)
        return [(s1 - s0) / (t1 - t0) for (t0, s0), (t1, s1) in pairs]


@dataclass
class Turns:
    """What :func:`take_turns` measured: each arm's windows (samples/s) and samples, the
    second arm's median over the first's within each round (the two ran seconds apart, under
    similar load), and the 1-min load average before the rounds and after each (above the core
    count other processes were competing for the CPU and the figures are noisier)."""

    rates: dict[Hashable, list[float]]
    samples: dict[Hashable, int]
    paired: list[float]
    load: list[float]

    def arm(self, name: Hashable) -> dict:
        rates = self.rates[name]
        return {"samples_per_s": statistics.median(rates), "windows": rates,
                "samples": self.samples[name]}  # fmt: skip

    def ratio(self) -> float:
        """The second arm's median samples/s over the first's, over all rounds."""
        first, second = (statistics.median(v) for v in self.rates.values())
        return second / first


def take_turns(
    arms: Sequence[Hashable],
    run: Callable[[Hashable, int, Windows], None],
    rounds: int,
    windows: Callable[[], Windows],
) -> Turns:
    """``rounds`` rounds in which each of the two ``arms`` runs once in turn (``run(arm,
    round, windows)``), so that load from other processes hits both."""
    first, second = arms
    turns = Turns({a: [] for a in arms}, dict.fromkeys(arms, 0), [], [os.getloadavg()[0]])
    for r in range(rounds):
        for a in arms:
            w = windows()
            run(a, r, w)
            turns.rates[a] += w.rates()
            turns.samples[a] += w.samples
        n = len(w.marks) - 1  # the windows of one run: this round's, of each arm
        turns.paired.append(
            statistics.median(turns.rates[second][-n:]) / statistics.median(turns.rates[first][-n:])
        )
        turns.load.append(os.getloadavg()[0])
    return turns


class WindowClock(Callback):
    """Feeds the project path's steps to :class:`Windows`. A batch's labels count its samples:
    (B,) for a single run, (B, K) for a seed-parallel job, whose step trains B·K. A call of
    ``train.steps_per_call`` K is a list of K batches, K steps ended together (the caller
    puts the window marks on multiples of K)."""

    def __init__(self, windows: Windows):
        self.windows = windows

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        for b in batch if isinstance(batch, list) else [batch]:
            self.windows.step(b[1].numel())


class JobClock(Callback):
    """When a job's fit starts, its first and last training step, and its test start and end."""

    def __init__(self):
        self.t: dict[str, float] = {}

    def _stamp(self, name: str, trainer, first_only: bool = False) -> None:
        if first_only and name in self.t:
            return
        sync(trainer.strategy.root_device)
        self.t[name] = time.perf_counter()

    def on_fit_start(self, trainer, pl_module):
        self._stamp("fit_start", trainer)

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self._stamp("first_step", trainer, first_only=True)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self._stamp("last_step", trainer)

    def on_test_start(self, trainer, pl_module):
        self._stamp("test_start", trainer)

    def on_test_end(self, trainer, pl_module):
        self._stamp("test_end", trainer)
