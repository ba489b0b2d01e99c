"""``python -m biaslab.bench``: parse the options, run the figures asked for, write bench.json
and print the tables."""

from __future__ import annotations

import argparse
import os
import tempfile
import warnings
from pathlib import Path

import torch

from biaslab.bench import calls, e2e, floor, overhead, profiling, seeds, throughput
from biaslab.bench.cases import CASES, make_cases
from biaslab.bench.report import print_report, write_report
from biaslab.bench.throughput import Plan
from biaslab.config.compose import CONF_DIR, ROOT


def _two_or_more(value: str) -> int:
    """--steps-per-call's K: compared with one step a call, so at least 2."""
    if not value.isdigit() or int(value) < 2:
        raise argparse.ArgumentTypeError(f"{value}: expected K >= 2 (compared with 1)")
    return int(value)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m biaslab.bench",
        description="What the project's Lightning path costs, against a hand-written loop.",
    )
    p.add_argument("--out", default="bench.json", help="where to write the JSON report")
    p.add_argument("--cases", nargs="+", choices=CASES, default=list(CASES))
    p.add_argument("--batch-size", type=int, help="cnn2d batch (default 512 on GPU, 64 on CPU)")
    p.add_argument(
        "--samples", type=int, help="cnn2d train+val samples (default GPU 20000, CPU 4096)"
    )
    p.add_argument(
        "--channels-last",
        action="store_true",
        help="cnn2d batches in channels_last memory in both paths (what a GPU wants)",
    )
    p.add_argument("--rounds", type=int, default=3, help="raw/project alternations per case")
    p.add_argument("--windows", type=int, default=2, help="timed windows per run")
    p.add_argument("--window-s", type=float, default=1.5, help="target seconds per window")
    p.add_argument("--jobs", type=int, default=10, help="tiny jobs for the fixed cost")
    p.add_argument("--job-steps", type=int, default=5, help="training steps of each tiny job")
    p.add_argument("--e2e", action="store_true", help="also time `python train.py` (~30 s)")
    p.add_argument("--quick", action="store_true", help="seconds-long smoke run")
    p.add_argument("--profile", metavar="CASE", choices=CASES, help="cProfile the project path")
    p.add_argument("--override", action="append", default=[], help="Hydra override, all runs")
    p.add_argument("--data-dir", help="paths.data_dir (dataset cache)")
    # With other processes on the cores, intra-op threads wait on each other at every op and
    # small models slow down many-fold; 1 thread keeps a shared machine's figures usable.
    p.add_argument("--threads", type=int, help="torch.set_num_threads (default: torch's)")
    p.add_argument("--config-dir", default=str(CONF_DIR))
    p.add_argument(
        "--parallel-seeds",
        type=int,
        metavar="K",
        help="instead: one train.parallel_seeds=K job vs K single runs (width 8)",
    )
    p.add_argument(
        "--parallel-steps",
        type=int,
        default=1000,
        help="steps of each run in the --parallel-seeds wall-time comparison",
    )
    p.add_argument(
        "--steps-per-call",
        type=_two_or_more,
        metavar="K",
        help="instead: each case with train.steps_per_call=1 vs K, taking turns (no raw loop)",
    )
    p.add_argument(
        "--floor",
        metavar="PRESET",
        help="instead: the FLOPs of PRESET's sweep (with --override) against this machine's rate",
    )
    p.add_argument(
        "--floor-runs", metavar="DIR", help="with --floor: the sweep's records, to compare"
    )
    p.add_argument(
        "--floor-batch", type=int, default=2000, help="batch of the --floor rate measurement"
    )
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    # The default logger is W&B; offline needs no account or network.
    os.environ.setdefault("WANDB_MODE", "offline")
    os.environ.setdefault("WANDB_SILENT", "true")
    warnings.filterwarnings("ignore", message=".*does not have many workers.*")
    warnings.filterwarnings("ignore", message=".*smaller than the logging interval.*")
    if args.threads:
        torch.set_num_threads(args.threads)
    conf_dir = Path(args.config_dir).resolve()
    gpu = torch.cuda.is_available()
    batch = args.batch_size or (16 if args.quick else 512 if gpu else 64)
    samples = args.samples or (512 if args.quick else 20_000 if gpu else 4096)
    plan = Plan(rounds=args.rounds, windows_per_round=args.windows, window_s=args.window_s)
    if args.quick:
        plan = Plan(rounds=1, windows_per_round=1, fixed_steps=(2, 3))
    base = [*([f"paths.data_dir={args.data_dir}"] if args.data_dir else []), *args.override]
    settings = {
        "quick": args.quick,
        "rounds": plan.rounds,
        "windows_per_round": plan.windows_per_round,
        "window_s": plan.window_s,
        "wandb_mode": os.environ["WANDB_MODE"],
        "channels_last": args.channels_last,
    }

    if args.floor:
        return _floor(args, base, settings)
    if args.parallel_seeds:
        return _parallel_seeds(args, conf_dir, base, plan, settings)
    if args.steps_per_call:
        return _steps_per_call(args, conf_dir, base, plan, settings, batch, samples)
    return _cases(args, conf_dir, base, plan, settings, batch, samples)


def _floor(args, base: list[str], settings: dict) -> dict:
    """The sweep's FLOPs against this machine's rate: a mode of its own."""
    with tempfile.TemporaryDirectory(prefix="biaslab-bench-") as tmp:
        result = floor.sweep_floor(
            args.floor,
            base,
            Path(tmp),
            batch=16 if args.quick else args.floor_batch,
            repeats=1 if args.quick else 10,
            runs=Path(args.floor_runs) if args.floor_runs else None,
        )
    report = write_report(args.out, settings | {"threads": args.threads}, {"floor": result})
    floor.print_floor(result)
    return report


def _parallel_seeds(args, conf_dir: Path, base: list[str], plan: Plan, settings: dict) -> dict:
    """K packed seeds against K separate runs: a mode of its own."""
    steps = 20 if args.quick else args.parallel_steps
    with tempfile.TemporaryDirectory(prefix="biaslab-bench-") as tmp:
        result = seeds.bench_parallel_seeds(
            args.parallel_seeds, conf_dir, Path(tmp), base, plan, steps
        )
    settings["threads"] = args.threads
    report = write_report(args.out, settings, {"parallel_seeds": result})
    seeds.print_parallel_seeds(report)
    return report


def _steps_per_call(
    args, conf_dir: Path, base: list[str], plan: Plan, settings: dict, batch: int, samples: int
) -> dict:
    """Each case at one step a call and at K, side by side: a mode of its own."""
    cases = make_cases(args.cases, batch, samples, args.data_dir, args.channels_last)
    with tempfile.TemporaryDirectory(prefix="biaslab-bench-") as tmp:
        rows = [
            calls.bench_calls(case, args.steps_per_call, conf_dir, Path(tmp), base, plan)
            for case in cases
        ]
    settings |= {"torch_threads": torch.get_num_threads(), "overrides": base}
    report = write_report(args.out, settings, {"steps_per_call": rows})
    calls.print_calls(report)
    return report


def _cases(
    args, conf_dir: Path, base: list[str], plan: Plan, settings: dict, batch: int, samples: int
) -> dict:
    """The project's path against the raw loop, case by case (the default mode)."""
    jobs, job_steps = (2, 2) if args.quick else (args.jobs, args.job_steps)
    cases = make_cases(args.cases, batch, samples, args.data_dir, args.channels_last)
    with tempfile.TemporaryDirectory(prefix="biaslab-bench-") as tmp:
        work = Path(tmp)
        if args.profile:
            case = next(c for c in cases if c.name == args.profile and c.bias)
            print(profiling.profile_case(case, conf_dir, work, base, 20 if args.quick else 300))
        # Jobs first: the first job then pays what the first job of a multirun pays (W&B's
        # service start, Lightning's lazy imports), not a process warmed by the cases.
        fixed = overhead.job_overhead(conf_dir, work, base, jobs, job_steps) if jobs > 0 else None
        results = []
        for case in cases:
            r = throughput.bench_case(case, conf_dir, work, base, plan)
            results.append(r)
            print(
                f"{r['case']} bias={str(r['bias']).lower()}: project "
                f"{r['project']['samples_per_s']:,.0f}/s, raw {r['raw']['samples_per_s']:,.0f}/s,"
                f" ratio {r['ratio']:.2f}",
                flush=True,
            )
        timed = e2e.end_to_end(ROOT, work, args.data_dir, args.threads) if args.e2e else None
    settings |= {
        "torch_threads": torch.get_num_threads(),
        "overrides": base,
        "validation": f"off during throughput runs ({throughput.NO_VALIDATION})",
    }
    body = {"cases": results, "overhead": fixed, "e2e": timed}
    report = write_report(args.out, settings, body)
    print_report(report)
    return report
