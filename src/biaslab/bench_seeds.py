"""Seed-parallel speed: one ``train.parallel_seeds=K`` job against K single runs of the same
config (seeds 0 … K-1), both through the project's own ``train(cfg)``.

    python -m biaslab.bench --parallel-seeds 5 [--threads 1] [--parallel-steps 1000]

Two figures: steady-state throughput in model-samples/s (a packed step trains B examples
for each of K members: B·K model-samples) over timed windows after warm-up, validation off,
single runs and the packed job taking turns every round; and the wall time of the K runs of
``--parallel-steps`` steps one after the other in one process (validation, test, W&B
offline: what a seed sweep costs) against the one job.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from unittest import mock

from lightning.pytorch.callbacks import Callback
from omegaconf import DictConfig, open_dict

import biaslab.seed_parallel.run as seed_parallel_run
import biaslab.train as train_module
from biaslab.bench import (
    Plan,
    Windows,
    _steps_for,
    compose_cfg,
    raw_device,
    write_report,
)

WIDTH = 8  # the regime packing is for: a model too small to keep a device busy


class ModelSamples(Callback):
    """Counts model-samples per step: a packed batch's labels are (B, K), B·K of them."""

    def __init__(self, windows: Windows):
        self.windows = windows

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.windows.step(batch[1].numel())


@contextmanager
def trainer_callbacks(*callbacks: Callback) -> Iterator[None]:
    """Add callbacks to the Trainer that either training path builds (as
    :func:`biaslab.bench.extra_callbacks` does for the single-run path)."""

    def patch(module):
        original = module.instantiate

        def wrapper(config, *args, **kwargs):
            if isinstance(config, DictConfig) and str(config.get("_target_", "")).endswith(
                "Trainer"
            ):
                kwargs["callbacks"] = [*(kwargs.get("callbacks") or []), *callbacks]
            return original(config, *args, **kwargs)

        return mock.patch.object(module, "instantiate", wrapper)

    with ExitStack() as stack:
        for module in (train_module, seed_parallel_run):
            stack.enter_context(patch(module))
        yield


def _rates(cfg: DictConfig, warmup: int, window: int, windows: int) -> list[float]:
    clock = Windows(warmup, window, windows, raw_device(cfg))
    with open_dict(cfg):
        cfg.trainer.max_steps = clock.total_steps
    with trainer_callbacks(ModelSamples(clock)):
        train_module.train(cfg)
    return clock.rates()


def bench_parallel_seeds(
    k: int, conf_dir: Path, work: Path, base: list[str], plan: Plan, steps: int
) -> dict:
    model = [f"model.width={WIDTH}"]
    off = ["++trainer.limit_val_batches=0"]  # validation would land in some windows only

    def cfg(name: str, *extra: str) -> DictConfig:
        return compose_cfg([*model, *base, *extra], work / name, conf_dir)  # --override wins

    meta = cfg("meta", "seed=0")
    batch = int(meta.data.batch_size)
    if plan.fixed_steps:
        warmup, window = plan.fixed_steps
    else:  # size the windows from a single run's step time
        step_s = batch / _rates(cfg("probe", "seed=0", *off), 20, 50, 1)[0]
        warmup = _steps_for(plan.warmup_s, step_s, plan.min_warmup, 500)
        window = _steps_for(plan.window_s, step_s, 3, 20_000)

    rates: dict[str, list[float]] = {"single": [], "packed": []}
    paired, load = [], [os.getloadavg()[0]]
    n = plan.windows_per_round
    for r in range(plan.rounds):
        single = [
            x
            for s in range(k)
            for x in _rates(cfg(f"single-{r}-{s}", f"seed={s}", *off), warmup, window, n)
        ]
        packed = _rates(
            cfg(f"packed-{r}", "seed=0", f"train.parallel_seeds={k}", *off), warmup, window, n
        )
        rates["single"] += single
        rates["packed"] += packed
        paired.append(statistics.median(packed) / statistics.median(single))
        load.append(os.getloadavg()[0])

    # wall time of a whole seed sweep, validation and test included
    budget = [f"trainer.max_steps={steps}", f"trainer.val_check_interval={max(1, steps // 2)}"]
    t0 = time.perf_counter()
    for s in range(k):
        train_module.train(cfg(f"wall-single-{s}", f"seed={s}", *budget))
    sequential_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    train_module.train(cfg("wall-packed", "seed=0", f"train.parallel_seeds={k}", *budget))
    packed_s = time.perf_counter() - t0
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
        "single": {"model_samples_per_s": med["single"], "windows": rates["single"]},
        "packed": {"model_samples_per_s": med["packed"], "windows": rates["packed"]},
        "ratio": med["packed"] / med["single"],
        "ratio_per_round": paired,
        "wall": {
            "steps": steps,
            "sequential_s": sequential_s,
            "packed_s": packed_s,
            "ratio": sequential_s / packed_s,
        },
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


def run(
    args: argparse.Namespace, conf_dir: Path, work: Path, base: list[str], plan: Plan, steps: int
) -> dict:
    """The ``--parallel-seeds`` mode of ``python -m biaslab.bench``: measure, write
    ``args.out``, print."""
    result = bench_parallel_seeds(args.parallel_seeds, conf_dir, work, base, plan, steps)
    report = write_report(args, plan, {"threads": args.threads}, {"parallel_seeds": result})
    print_parallel_seeds(report)
    return report
