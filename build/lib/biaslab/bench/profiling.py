"""cProfile of the project path's steady state: ``steps`` training steps after 20 warm-up
steps, setup and warm-up excluded, by own time and by cumulative time."""

from __future__ import annotations

import cProfile
import io
import pstats
from pathlib import Path

from lightning.pytorch.callbacks import Callback
from omegaconf import open_dict

from biaslab.bench.cases import Case
from biaslab.bench.clock import Windows
from biaslab.bench.raw import raw_device
from biaslab.bench.throughput import NO_VALIDATION, case_cfg, run_project

WARMUP = 20


class _Toggle(Callback):
    def __init__(self, profiler: cProfile.Profile):
        self.profiler = profiler

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if trainer.global_step == WARMUP:
            self.profiler.enable()

    def on_train_end(self, trainer, pl_module):
        self.profiler.disable()


def profile_case(case: Case, conf_dir: Path, work: Path, base: list[str], steps: int) -> str:
    cfg = case_cfg(case, [*base, NO_VALIDATION], work / "profile", conf_dir)
    with open_dict(cfg):
        cfg.trainer.max_steps = WARMUP + steps
    profiler = cProfile.Profile()
    run_project(cfg, Windows(WARMUP, steps, 1, raw_device(cfg)), extra=[_Toggle(profiler)])
    s = io.StringIO()
    stats = pstats.Stats(profiler, stream=s).strip_dirs()
    stats.sort_stats("tottime").print_stats(25)  # where the time is spent
    stats.sort_stats("cumulative").print_stats(40)  # which caller spends it
    return s.getvalue()
