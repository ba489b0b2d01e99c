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

from pathlib import Path

from hydra.utils import instantiate
from omegaconf import open_dict

from biaslab.bench.cases import Case
from biaslab.bench.clock import Windows, take_turns
from biaslab.bench.raw import raw_device
from biaslab.bench.report import CASE, console, spread, table
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

    def run(arm: int, r: int, w: Windows) -> None:
        with open_dict(cfg):  # a run of its own, in its own folder
            cfg.train.steps_per_call = arm
            cfg.paths.output_dir = str(folder / f"k{arm}-round-{r}")
        run_project(cfg, w)

    n = plan.windows_per_round
    turns = take_turns((1, k), run, plan.rounds, lambda: Windows(warmup, window, n, device))
    return {
        "case": case.name,
        "bias": case.bias,
        "device": str(device),
        "batch_size": int(data.batch_size),
        "k": k,
        "warmup_steps": warmup,
        "window_steps": window,
        "overrides": case.overrides,
        "one": turns.arm(1),
        "k_steps": turns.arm(k),
        "ratio": turns.ratio(),
        "ratio_per_round": turns.paired,
        "loadavg": turns.load,
    }


def print_calls(report: dict) -> None:
    rows = report["steps_per_call"]
    k = rows[0]["k"] if rows else "K"
    columns = {
        **CASE,
        "1 a call": lambda c: f"{c['one']['samples_per_s']:,.0f}",
        f"{k} a call": lambda c: f"{c['k_steps']['samples_per_s']:,.0f}",
        f"{k} / 1": lambda c: f"{c['ratio']:.2f}",
        "rounds": lambda c: spread(c["ratio_per_round"]),
        "load": lambda c: spread(c["loadavg"], ".1f"),
    }
    title = f"steps per call on {report['device']['name']} (samples/s, median)"
    console().print(table(title, rows, columns))
