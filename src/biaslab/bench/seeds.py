"""Seed-parallel speed: one ``train.parallel_seeds=K`` job against K single runs of the same
config (seeds 0 … K-1), both through the project's own ``biaslab.run.train.train``.

    python -m biaslab.bench --parallel-seeds 5 [--threads 1] [--parallel-steps 1000]

Two figures: steady-state throughput in model-samples/s (a packed step trains B examples
for each of K members: B·K model-samples) over timed windows after warm-up, validation off,
single runs and the packed job taking turns every round, timed by a
:class:`~biaslab.bench.clock.WindowClock` passed to ``train(cfg, callbacks=...)``; and the wall
time around ``train()`` of the K runs of ``--parallel-steps`` steps one after the other in one
process (validation, test, logger: what a seed sweep costs) against the one job.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from omegaconf import DictConfig, open_dict

from biaslab.bench.clock import WindowClock, Windows
from biaslab.bench.raw import raw_device
from biaslab.bench.throughput import NO_VALIDATION, Plan
from biaslab.config.compose import compose_job
from biaslab.run.train import train

WIDTH = 8  # the regime packing is for: a model too small to keep a device busy


def _timed(cfg: DictConfig, warmup: int, window: int, windows: int) -> Windows:
    clock = Windows(warmup, window, windows, raw_device(cfg))
    with open_dict(cfg):
        cfg.trainer.max_steps = clock.total_steps
    train(cfg, callbacks=[WindowClock(clock)])
    return clock


def _sized(probe_cfg: DictConfig, plan: Plan, batch: int) -> tuple[int, int]:
    """(warmup, window) steps sized from a single run's step time."""
    probe = _timed(probe_cfg, 20, 50, 1)
    return plan.steps_for(batch / probe.rates()[0])


def _wall_time(cfg: Callable[..., DictConfig], k: int, steps: int) -> dict:
    """Wall time of a whole seed sweep, validation and test included: k runs, then one packed."""
    budget = [f"trainer.max_steps={steps}", f"trainer.val_check_interval={max(1, steps // 2)}"]
    t0 = time.perf_counter()
    for s in range(k):
        train(cfg(f"wall-single-{s}", f"seed={s}", *budget))
    sequential_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    train(cfg("wall-packed", "seed=0", f"train.parallel_seeds={k}", *budget))
    packed_s = time.perf_counter() - t0
    return {
        "steps": steps,
        "sequential_s": sequential_s,
        "packed_s": packed_s,
        "ratio": sequential_s / packed_s,
    }


def bench_parallel_seeds(
    k: int, conf_dir: Path, work: Path, base: list[str], plan: Plan, steps: int
) -> dict:
    model = [f"model.width={WIDTH}"]

    def cfg(name: str, *extra: str) -> DictConfig:
        return compose_job([*model, *base, *extra], work / name, conf_dir)  # --override wins

    meta = cfg("meta", "seed=0")
    batch = int(meta.data.batch_size)
    warmup, window = plan.fixed_steps or _sized(cfg("probe", "seed=0", NO_VALIDATION), plan, batch)

    rates: dict[str, list[float]] = {"single": [], "packed": []}
    samples = {"single": 0, "packed": 0}  # model-samples trained: the same for both paths
    paired, load = [], [os.getloadavg()[0]]
    n = plan.windows_per_round
    for r in range(plan.rounds):
        single = []
        for s in range(k):
            clock = _timed(cfg(f"single-{r}-{s}", f"seed={s}", NO_VALIDATION), warmup, window, n)
            single += clock.rates()
            samples["single"] += clock.samples
        packed_cfg = cfg(f"packed-{r}", "seed=0", f"train.parallel_seeds={k}", NO_VALIDATION)
        clock = _timed(packed_cfg, warmup, window, n)
        packed = clock.rates()
        samples["packed"] += clock.samples
        rates["single"] += single
        rates["packed"] += packed
        paired.append(statistics.median(packed) / statistics.median(single))
        load.append(os.getloadavg()[0])

    wall = _wall_time(cfg, k, steps)
    load.append(os.getloadavg()[0])

    med = {name: statistics.median(v) for name, v in rates.items()}
    return {
        "k": k,
        "overrides": [*model, *base],
        "device": str(raw_device(meta)),
        "batch_size": batch,
        "precision": str(meta.trainer.precision),
        "warmup_steps": warmup,
        "window_steps": window,
        **{
            path: {
                "model_samples_per_s": med[path],
                "windows": rates[path],
                "model_samples": samples[path],
            }
            for path in ("single", "packed")
        },
        "ratio": med["packed"] / med["single"],
        "ratio_per_round": paired,
        "wall": wall,
        # 1-min load average; above the core count other processes competed for the CPU
        "loadavg": load,
    }


def print_parallel_seeds(report: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    r = report["parallel_seeds"]
    console = Console() if Console().is_terminal else Console(width=140)
    table = Table(
        title=f"seed-parallel on {report['device']['name']}: {r['k']} seeds, "
        f"{' '.join(r['overrides'])}, batch {r['batch_size']}"
    )
    for col in ("", f"{r['k']} single runs", f"one job of {r['k']}", "job / runs"):
        table.add_column(col, justify="left" if not col else "right", no_wrap=True)
    table.add_row(
        "model-samples/s (median)",
        f"{r['single']['model_samples_per_s']:,.0f}",
        f"{r['packed']['model_samples_per_s']:,.0f}",
        f"{r['ratio']:.2f} ({min(r['ratio_per_round']):.2f}-{max(r['ratio_per_round']):.2f})",
    )
    w = r["wall"]
    table.add_row(
        f"wall s, {w['steps']} steps each",
        f"{w['sequential_s']:.1f}",
        f"{w['packed_s']:.1f}",
        f"{w['ratio']:.2f}x faster",
    )
    console.print(table)
    console.print(f"load average {min(r['loadavg']):.1f}-{max(r['loadavg']):.1f}")
