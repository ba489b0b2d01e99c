"""Steps per call: the project path with ``train.steps_per_call=1`` against ``=K``, side by side.

    python -m biaslab.bench --steps-per-call 10 --cases images-w4 [--threads 1]

Both arms are :func:`biaslab.run.train.train` on the case's config, timed by a
:class:`~biaslab.bench.clock.WindowClock` over the same windows (whole calls of K steps, sized
from the raw loop's step time), validation off. They take turns every round (1, K, 1, K, ...)
so that load from other processes hits both; the figure is K's samples/s over 1's, per round
and the median. The runs train the same batches to the same weights
(tests/test_steps_per_call.py), so the ratio is the speed of the call alone.
"""

from __future__ import annotations

import os
import statistics
from pathlib import Path

from hydra.utils import instantiate
from omegaconf import open_dict

from biaslab.bench.cases import Case
from biaslab.bench.clock import Windows
from biaslab.bench.raw import raw_device
from biaslab.bench.throughput import NO_VALIDATION, Plan, case_cfg, run_project, window_steps
from biaslab.run.steps_per_call import KEY


def bench_calls(case: Case, k: int, conf_dir: Path, work: Path, base: list[str], plan: Plan):
    """One case with ``train.steps_per_call`` 1 and ``k``, ``plan.rounds`` rounds each."""
    folder = work / f"calls-{case.name}-{case.bias}"
    cfg = case_cfg(case, [*base, NO_VALIDATION, f"{KEY}={k}"], folder, conf_dir)
    device = raw_device(cfg)
    data = instantiate(cfg.data)
    data.prepare_splits()
    warmup, window = window_steps(cfg, data, device, plan)  # whole calls of k steps
    with open_dict(cfg):
        cfg.trainer.max_steps = warmup + plan.windows_per_round * window
    arms = (1, k)
    rates: dict[int, list[float]] = {a: [] for a in arms}
    samples = dict.fromkeys(arms, 0)  # trained by each arm over all rounds: the same
    paired, load = [], [os.getloadavg()[0]]
    n = plan.windows_per_round
    for r in range(plan.rounds):
        for arm in arms:
            with open_dict(cfg):  # a run of its own, in its own folder
                cfg.train.steps_per_call = arm
                cfg.paths.output_dir = str(folder / f"k{arm}-round-{r}")
            w = Windows(warmup, window, n, device)
            run_project(cfg, w)
            rates[arm] += w.rates()
            samples[arm] += w.samples
        paired.append(statistics.median(rates[k][-n:]) / statistics.median(rates[1][-n:]))
        load.append(os.getloadavg()[0])
    med = {arm: statistics.median(v) for arm, v in rates.items()}
    return {
        "case": case.name,
        "bias": case.bias,
        "device": str(device),
        "batch_size": int(data.batch_size),
        "k": k,
        "warmup_steps": warmup,
        "window_steps": window,
        "overrides": case.overrides,
        "one": {"samples_per_s": med[1], "windows": rates[1], "samples": samples[1]},
        "k_steps": {"samples_per_s": med[k], "windows": rates[k], "samples": samples[k]},
        "ratio": med[k] / med[1],
        "ratio_per_round": paired,
        # 1-min load average around the rounds; above the core count other processes were
        # competing for the CPU and the figures are noisier
        "loadavg": load,
    }


def print_calls(report: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    rows = report["steps_per_call"]
    console = Console() if Console().is_terminal else Console(width=140)
    k = rows[0]["k"] if rows else "K"
    table = Table(title=f"steps per call on {report['device']['name']} (samples/s, median)")
    cols = ("case", "bias", "batch", "1 a call", f"{k} a call", f"{k} / 1", "rounds", "load")
    for col in cols:
        table.add_column(col, justify="left" if col == "case" else "right", no_wrap=True)
    for c in rows:
        table.add_row(
            c["case"],
            str(c["bias"]).lower(),
            str(c["batch_size"]),
            f"{c['one']['samples_per_s']:,.0f}",
            f"{c['k_steps']['samples_per_s']:,.0f}",
            f"{c['ratio']:.2f}",
            f"{min(c['ratio_per_round']):.2f}-{max(c['ratio_per_round']):.2f}",
            f"{min(c['loadavg']):.1f}-{max(c['loadavg']):.1f}",
        )
    console.print(table)
